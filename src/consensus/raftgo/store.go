// The member's state on disk: an exclusive lock on its folder (naming the process that holds
// it), raft.db checked before bolt maps it (a damaged file must fail with an error, never fault
// inside bolt's mmap), and moving damaged state aside for a member to rejoin from its peers.
package main

/*
#include <stdlib.h>
#include "bridge.h"
*/
import "C"

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/boltdb/bolt"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb"
)

const (
	lockName     = "raft.lock"
	storeName    = "raft.db"
	snapshotsDir = "snapshots"
	boltTimeout  = time.Second // bolt's own file lock, held only by another process
	// Bolt's file format (boltdb/bolt db.go and page.go): two meta pages at the start.
	boltMagic       = 0xED0CDAED
	boltVersion     = 2
	boltPageHeader  = 16
	boltMetaSumSize = 56 // the meta fields before its checksum
	boltMinPageSize = 512
	boltMaxPageSize = 1 << 20
)

// damagedError is state on disk that cannot be used: the member must be reset and rejoin.
type damagedError struct{ msg string }

func (e *damagedError) Error() string { return e.msg }

// inUseError is a folder locked by another process.
type inUseError struct{ msg string }

func (e *inUseError) Error() string { return e.msg }

func damagedf(format string, args ...interface{}) error {
	return &damagedError{fmt.Sprintf(format, args...)}
}

// resetHint tells the operator how to recover a member whose state cannot be used.
func resetHint(dir string) string {
	return fmt.Sprintf("to recover, move the damaged state aside and let this member rejoin "+
		"from its peers: stop it, run `shoal raft reset-state --raft-dir %s` (or start it with "+
		"`shoal executor ... --raft-reset-state`), then start it again", dir)
}

// lockDir takes an exclusive lock on dir (flock on dir/raft.lock, which then holds our pid). The
// lock goes with the returned file, or with the process.
func lockDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, lockName)
	file, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening the lock file %s: %w", path, err)
	}
	if err := syscall.Flock(int(file.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		file.Close()
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		return nil, &inUseError{fmt.Sprintf("the Raft state in %s is in use by %s (it holds "+
			"the lock %s); stop that process, or give this replica another workspace",
			dir, describeHolder(path), path)}
	}
	if err := file.Truncate(0); err == nil {
		file.WriteAt([]byte(fmt.Sprintf("pid=%d\n", os.Getpid())), 0)
	}
	return file, nil
}

// describeHolder names the process recorded in a lock file: "process 123 (shoal)".
func describeHolder(path string) string {
	text, err := os.ReadFile(path)
	if err != nil {
		return "another process"
	}
	pidText := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(text)), "pid="))
	pid, err := strconv.Atoi(pidText)
	if err != nil || pid <= 0 {
		return "another process"
	}
	if pid == os.Getpid() {
		return fmt.Sprintf("this process (pid %d)", pid)
	}
	if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err == nil {
		return fmt.Sprintf("process %d (%s)", pid, strings.TrimSpace(string(comm)))
	}
	return fmt.Sprintf("process %d", pid)
}

type boltMeta struct {
	pageSize uint32
	pgid     uint64 // high water mark: pages in use
	txid     uint64
}

// readBoltMeta decodes and validates the meta page at `offset` of `head`.
func readBoltMeta(head []byte, offset int) (boltMeta, bool) {
	if len(head) < offset+boltPageHeader+boltMetaSumSize+8 {
		return boltMeta{}, false
	}
	m := head[offset+boltPageHeader:]
	le := binary.LittleEndian
	if le.Uint32(m[0:]) != boltMagic || le.Uint32(m[4:]) != boltVersion {
		return boltMeta{}, false
	}
	sum := fnv.New64a()
	sum.Write(m[:boltMetaSumSize])
	if stored := le.Uint64(m[boltMetaSumSize:]); stored != 0 && stored != sum.Sum64() {
		return boltMeta{}, false
	}
	return boltMeta{pageSize: le.Uint32(m[8:]), pgid: le.Uint64(m[40:]), txid: le.Uint64(m[48:])},
		true
}

// checkBoltFile refuses a raft.db that bolt would fault on: no valid meta page, or shorter than
// the pages its meta says are in use (a truncated file). A missing or empty file is new state.
func checkBoltFile(path string) error {
	info, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) || (err == nil && info.Size() == 0) {
		return nil
	}
	if err != nil {
		return err
	}
	file, err := os.Open(path)
	if err != nil {
		return err
	}
	defer file.Close()
	head := make([]byte, 2*boltMaxPageSize)
	n, _ := file.ReadAt(head, 0)
	head = head[:n]
	// Meta page 0 gives the page size; meta page 1 follows it (bolt falls back to the OS page
	// size when page 0 is unreadable). The valid one with the latest transaction counts.
	best, found := readBoltMeta(head, 0)
	pageSize := os.Getpagesize()
	if found && best.pageSize >= boltMinPageSize && best.pageSize <= boltMaxPageSize {
		pageSize = int(best.pageSize)
	} else {
		found = false
	}
	if other, ok := readBoltMeta(head, pageSize); ok && (!found || other.txid > best.txid) {
		best, found = other, true
	}
	if !found || best.pageSize < boltMinPageSize || best.pageSize > boltMaxPageSize {
		return damagedf("the Raft log %s is damaged: no valid bolt meta page (%d bytes)",
			path, info.Size())
	}
	if need := int64(best.pgid) * int64(best.pageSize); info.Size() < need {
		return damagedf("the Raft log %s is damaged: it is truncated (%d bytes; its pages "+
			"reach %d bytes)", path, info.Size(), need)
	}
	return nil
}

// openStore opens raft.db after checking it, then reads every log entry once with memory faults
// turned into panics, so that damage shows here as an error naming the file and the recovery.
func openStore(dir string) (*raftboltdb.BoltStore, error) {
	store, err := openCheckedStore(dir)
	var damaged *damagedError
	if errors.As(err, &damaged) {
		return nil, damagedf("%v; %s", err, resetHint(dir))
	}
	return store, err
}

func openCheckedStore(dir string) (store *raftboltdb.BoltStore, err error) {
	path := filepath.Join(dir, storeName)
	if err := checkBoltFile(path); err != nil {
		return nil, err
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if store != nil {
				store.Close()
			}
			store, err = nil, damagedf("the Raft log %s is damaged: reading it failed (%v)", path, r)
		}
	}()
	store, err = raftboltdb.New(raftboltdb.Options{
		Path: path, BoltOptions: &bolt.Options{Timeout: boltTimeout}})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, &inUseError{fmt.Sprintf("the Raft log %s is locked by another process; "+
			"stop it, or give this replica another workspace", path)}
	}
	if err != nil {
		if errors.Is(err, bolt.ErrInvalid) || errors.Is(err, bolt.ErrChecksum) ||
			errors.Is(err, bolt.ErrVersionMismatch) {
			return nil, damagedf("the Raft log %s is damaged: %v", path, err)
		}
		return nil, err
	}
	if err := scanStore(store); err != nil {
		store.Close()
		return nil, damagedf("the Raft log %s is damaged: %v", path, err)
	}
	return store, nil
}

// scanStore reads every entry of the log (each page bolt will ever map for it).
func scanStore(store *raftboltdb.BoltStore) error {
	first, err := store.FirstIndex()
	if err != nil {
		return err
	}
	last, err := store.LastIndex()
	if err != nil {
		return err
	}
	if first == 0 {
		return nil
	}
	var entry raft.Log
	for index := first; index <= last; index++ {
		if err := store.GetLog(index, &entry); err != nil {
			return fmt.Errorf("entry %d: %v", index, err)
		}
	}
	return nil
}

// resetState moves raft.db and the snapshots in dir aside (…corrupt-<UTC time>), never deleting
// them, so that the member starts empty and takes the group's state from its leader. Returns
// what was moved; the folder must not be in use.
func resetState(dir string) ([]string, error) {
	if info, err := os.Stat(dir); err != nil || !info.IsDir() {
		return nil, invalidf("%s holds no Raft state (no such folder)", dir)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	defer lock.Close()
	suffix := ".corrupt-" + time.Now().UTC().Format("20060102T150405Z")
	var moved []string
	for _, name := range []string{storeName, snapshotsDir} {
		from := filepath.Join(dir, name)
		if _, err := os.Lstat(from); errors.Is(err, os.ErrNotExist) {
			continue
		}
		to := from + suffix
		if err := os.Rename(from, to); err != nil {
			return moved, fmt.Errorf("moving %s aside: %w", from, err)
		}
		moved = append(moved, to)
	}
	return moved, nil
}

// shoal_raft_reset_state moves the state under dir aside (store.go); *moved receives what was
// moved, malloc()ed, one path a line.
//
//export shoal_raft_reset_state
func shoal_raft_reset_state(dir *C.shoal_raft_cchar, moved **C.char, errOut **C.char) C.int {
	paths, err := resetState(goString(dir))
	*moved = C.CString(strings.Join(paths, "\n"))
	return fail(err, errOut)
}
