// A checksum per log entry: CRC-32C over the request bytes, added when the entry is submitted
// and verified before it is applied, so that an entry damaged on disk (or anywhere after it
// was submitted) is never applied.
package main

/*
#include <stdlib.h>
#include "bridge.h"
*/
import "C"

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"unsafe"
)

// Entries start with entryMagic and the CRC-32C (little-endian) of the rest. Entries written
// before checksums existed have no header (a serialized request never starts with 0xff).
var (
	entryMagic = []byte{0xff, 'S', 'C', 1}
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
)

const entryHeader = 8

func sealEntry(payload []byte) []byte {
	out := make([]byte, entryHeader+len(payload))
	copy(out, entryMagic)
	binary.LittleEndian.PutUint32(out[len(entryMagic):], crc32.Checksum(payload, castagnoli))
	copy(out[entryHeader:], payload)
	return out
}

// openEntry returns the request bytes of an entry, or why they cannot be trusted.
func openEntry(data []byte) ([]byte, error) {
	if len(data) == 0 || data[0] != entryMagic[0] {
		return data, nil // written before checksums
	}
	if len(data) < entryHeader || !bytes.Equal(data[:len(entryMagic)], entryMagic) {
		return nil, fmt.Errorf("its checksum header is damaged")
	}
	stored := binary.LittleEndian.Uint32(data[len(entryMagic):])
	payload := data[entryHeader:]
	if computed := crc32.Checksum(payload, castagnoli); computed != stored {
		return nil, fmt.Errorf("its CRC-32C is %08x, the entry was written with %08x", computed,
			stored)
	}
	return payload, nil
}

// setDamaged records (once) that entry `index` cannot be applied, logs it and tells the host.
func (n *node) setDamaged(index uint64, cause error) {
	n.damagedMu.Lock()
	first := n.damaged == ""
	if first {
		n.damaged = fmt.Sprintf("Raft log entry %d of member %s is damaged (%v): it was not "+
			"applied, and this member applies nothing more; %s", index, n.id, cause,
			resetHint(n.dir))
	}
	text := n.damaged
	n.damagedMu.Unlock()
	if first {
		n.logf(C.SHOAL_RAFT_LOG_ERROR, "%s", text)
		n.logMu.RLock()
		defer n.logMu.RUnlock()
		if !n.logClosed {
			c := C.CString(text)
			C.shoal_raft_call_damaged(n.cb, c)
			C.free(unsafe.Pointer(c))
		}
	}
}

func (n *node) damagedState() string {
	n.damagedMu.Lock()
	defer n.damagedMu.Unlock()
	return n.damaged
}

// shoal_raft_damaged returns, malloc()ed, why this node stopped applying entries, or NULL.
//
//export shoal_raft_damaged
func shoal_raft_damaged(h C.uintptr_t) *C.char {
	if text := getNode(h).damagedState(); text != "" {
		return C.CString(text)
	}
	return nil
}
