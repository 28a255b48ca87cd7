// Package main is the Go half of src/consensus: a small C API over hashicorp/raft 1.1.2 (Debian),
// built with -buildmode=c-archive and called only by raft_node.cc. It owns the raft.Raft, its
// raft-boltdb log store, file snapshot store and TCP transport (which may advertise a DNS name); the state machine stays in C++
// behind the callbacks of bridge.h.
package main

/*
#include <stdlib.h>
#include "bridge.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime/cgo"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb"
)

const (
	logCacheEntries  = 64 // entries, not bytes: requests may be large
	snapshotsRetain  = 2
	transportPool    = 3
	transportTimeout = 10 * time.Second
	tempPattern      = "fsm-*.tmp"
)

var errTimeout = errors.New("timed out")

// node is one raft member; C holds it as a cgo.Handle.
type node struct {
	id    string
	dir   string
	lock  *os.File // flock on dir/raft.lock, held while the node is open
	r     *raft.Raft
	layer *streamLayer
	trans *raft.NetworkTransport
	lease *readLease // nil unless the member serves reads under a lease (lease.go)
	store *raftboltdb.BoltStore
	snaps raft.SnapshotStore
	cb    *C.shoal_raft_callbacks // a copy in C memory, freed by shoal_raft_free

	// A committed entry that failed its checksum: nothing more is applied (the FSM goroutine
	// waits in Apply until shutdown, closing fsmStop).
	damagedMu sync.Mutex
	damaged   string // guarded by damagedMu
	fsmStop   chan struct{}

	shutdownOnce sync.Once
	shutdownErr  error
	snapshotSeq  uint64

	logMu     sync.RWMutex // held (shared) while calling the log callback
	logClosed bool         // guarded by logMu: set by shoal_raft_free
}

// ---- errors ---------------------------------------------------------------------------------

type invalidError struct{ msg string }

func (e *invalidError) Error() string { return e.msg }

func invalidf(format string, args ...interface{}) error {
	return &invalidError{fmt.Sprintf(format, args...)}
}

func resultCode(err error) C.int {
	var invalid *invalidError
	var damaged *damagedError
	var inUse *inUseError
	var unsafeErr *unsafeError
	switch {
	case err == nil:
		return C.SHOAL_RAFT_OK
	case errors.As(err, &invalid):
		return C.SHOAL_RAFT_INVALID
	case errors.As(err, &damaged):
		return C.SHOAL_RAFT_DAMAGED
	case errors.As(err, &inUse):
		return C.SHOAL_RAFT_IN_USE
	case errors.As(err, &unsafeErr):
		return C.SHOAL_RAFT_UNSAFE
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipTransferInProgress):
		// Refused before it was appended: another member takes it, as from a follower.
		return C.SHOAL_RAFT_NOT_LEADER
	case errors.Is(err, raft.ErrLeadershipLost):
		return C.SHOAL_RAFT_LEADERSHIP_LOST
	case errors.Is(err, raft.ErrEnqueueTimeout), errors.Is(err, errTimeout):
		return C.SHOAL_RAFT_TIMEOUT
	case errors.Is(err, raft.ErrRaftShutdown):
		return C.SHOAL_RAFT_SHUTDOWN
	case errors.Is(err, raft.ErrCantBootstrap):
		return C.SHOAL_RAFT_CANT_BOOTSTRAP
	}
	return C.SHOAL_RAFT_ERROR
}

// fail sets *errOut to a malloc()ed copy of err's message and returns its code.
func fail(err error, errOut **C.char) C.int {
	code := resultCode(err)
	if code != C.SHOAL_RAFT_OK && errOut != nil {
		*errOut = C.CString(err.Error())
	}
	return code
}

// wait bounds a future: raft bounds only the enqueueing of a request, not its completion.
func wait(f raft.Future, timeout time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case err := <-done:
		return err
	case <-timer.C:
		return errTimeout
	}
}

// ---- conversions ----------------------------------------------------------------------------

func goString(p *C.shoal_raft_cchar) string { return C.GoString((*C.char)(unsafe.Pointer(p))) }

func goStrings(p *C.shoal_raft_cstrings, n C.size_t) []string {
	out := make([]string, int(n))
	for i, s := range unsafe.Slice((**C.char)(unsafe.Pointer(p)), int(n)) {
		out[i] = C.GoString(s)
	}
	return out
}

func copyBytes(p unsafe.Pointer, n C.size_t) []byte {
	out := make([]byte, int(n))
	if n > 0 {
		copy(out, unsafe.Slice((*byte)(p), int(n)))
	}
	return out
}

func millis(ms C.int64_t) time.Duration { return time.Duration(ms) * time.Millisecond }

func getNode(h C.uintptr_t) *node { return cgo.Handle(h).Value().(*node) }

// ---- configuration by raft.Config field name -------------------------------------------------

var durationType = reflect.TypeOf(time.Duration(0))

// setField sets one raft.Config field from its text: durations as time.ParseDuration reads them.
func setField(conf *raft.Config, name, text string) error {
	field := reflect.ValueOf(conf).Elem().FieldByName(name)
	if !field.IsValid() || !field.CanSet() || name == "LocalID" || name == "NotifyCh" ||
		name == "Logger" || name == "LogOutput" {
		return invalidf("unknown raft.Config field %q", name)
	}
	var err error
	switch {
	case field.Type() == durationType:
		var d time.Duration
		if d, err = time.ParseDuration(text); err == nil {
			field.SetInt(int64(d))
		}
	case field.Kind() == reflect.Int:
		var v int64
		if v, err = strconv.ParseInt(text, 10, 64); err == nil {
			field.SetInt(v)
		}
	case field.Kind() == reflect.Uint64:
		var v uint64
		if v, err = strconv.ParseUint(text, 10, 64); err == nil {
			field.SetUint(v)
		}
	case field.Kind() == reflect.Bool:
		var v bool
		if v, err = strconv.ParseBool(text); err == nil {
			field.SetBool(v)
		}
	case field.Kind() == reflect.String:
		field.SetString(text)
	default:
		return invalidf("raft.Config field %q cannot be set", name)
	}
	if err != nil {
		return invalidf("raft.Config field %q: %v", name, err)
	}
	return nil
}

func hclogLevel(name string) hclog.Level {
	switch strings.ToUpper(name) {
	case "WARNING":
		return hclog.Warn
	case "OFF":
		return hclog.Error + 1
	}
	if level := hclog.LevelFromString(name); level != hclog.NoLevel {
		return level
	}
	return hclog.Info
}

// ---- logging ----------------------------------------------------------------------------------

// logWriter receives one formatted hclog line per Write (" [WARN]  raft: text") and hands it to
// the log callback with its level.
type logWriter struct{ n *node }

func (w logWriter) Write(p []byte) (int, error) {
	line := strings.TrimSpace(string(p))
	level := C.int(C.SHOAL_RAFT_LOG_INFO)
	if strings.HasPrefix(line, "[") {
		if end := strings.IndexByte(line, ']'); end > 0 {
			switch line[1:end] {
			case "TRACE", "DEBUG":
				level = C.SHOAL_RAFT_LOG_DEBUG
			case "WARN":
				level = C.SHOAL_RAFT_LOG_WARNING
			case "ERROR":
				level = C.SHOAL_RAFT_LOG_ERROR
			}
			line = strings.TrimSpace(line[end+1:])
		}
	}
	w.n.logMu.RLock()
	defer w.n.logMu.RUnlock()
	if !w.n.logClosed && len(line) > 0 {
		c := C.CString(line)
		C.shoal_raft_call_log(w.n.cb, level, c, C.size_t(len(line)))
		C.free(unsafe.Pointer(c))
	}
	return len(p), nil
}

// logf hands one line to the log callback at `level`.
func (n *node) logf(level C.int, format string, args ...interface{}) {
	line := fmt.Sprintf(format, args...)
	n.logMu.RLock()
	defer n.logMu.RUnlock()
	if !n.logClosed {
		c := C.CString(line)
		C.shoal_raft_call_log(n.cb, level, c, C.size_t(len(line)))
		C.free(unsafe.Pointer(c))
	}
}

func (n *node) infof(format string, args ...interface{}) {
	n.logf(C.SHOAL_RAFT_LOG_INFO, format, args...)
}

func (n *node) warnf(format string, args ...interface{}) {
	n.logf(C.SHOAL_RAFT_LOG_WARNING, format, args...)
}

// ---- state machine ----------------------------------------------------------------------------

type fsm struct{ n *node }

func (f *fsm) Apply(entry *raft.Log) interface{} {
	payload, err := openEntry(entry.Data)
	if err == nil && f.n.damagedState() != "" {
		err = errors.New("an earlier entry failed its checksum")
	}
	if err != nil {
		f.n.setDamaged(entry.Index, err)
		<-f.n.fsmStop // applies nothing more: the state stays as it was before this entry
		return []byte(nil)
	}
	var data unsafe.Pointer
	if len(payload) > 0 {
		data = unsafe.Pointer(&payload[0])
	}
	resp := C.shoal_raft_call_apply(f.n.cb, C.uint64_t(entry.Index), data, C.size_t(len(payload)))
	if resp.data == nil {
		return []byte(nil)
	}
	defer C.free(resp.data)
	return copyBytes(resp.data, resp.len)
}

// callFile runs the snapshot or restore callback on `path` and turns its message into an error.
func callFile(call func(*C.char) *C.char, path string) error {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	if msg := call(cpath); msg != nil {
		defer C.free(unsafe.Pointer(msg))
		return errors.New(C.GoString(msg))
	}
	return nil
}

// Snapshot runs on the FSM goroutine, so the state written is exactly the applied state.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	seq := atomic.AddUint64(&f.n.snapshotSeq, 1)
	path := filepath.Join(f.n.dir, fmt.Sprintf("fsm-snapshot-%d.tmp", seq))
	err := callFile(func(p *C.char) *C.char { return C.shoal_raft_call_snapshot(f.n.cb, p) }, path)
	if err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("snapshot callback: %w", err)
	}
	return &fileSnapshot{path: path}, nil
}

func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	path := filepath.Join(f.n.dir, "fsm-restore.tmp")
	defer os.Remove(path)
	file, err := os.Create(path)
	if err != nil {
		return err
	}
	_, err = io.Copy(file, rc)
	if closeErr := file.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	err = callFile(func(p *C.char) *C.char { return C.shoal_raft_call_restore(f.n.cb, p) }, path)
	if err != nil {
		return fmt.Errorf("restore callback: %w", err)
	}
	return nil
}

// fileSnapshot is a snapshot file written by the callback, streamed into raft's snapshot store.
type fileSnapshot struct{ path string }

func (s *fileSnapshot) Persist(sink raft.SnapshotSink) error {
	file, err := os.Open(s.path)
	if err == nil {
		_, err = io.Copy(sink, file)
		file.Close()
	}
	if err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *fileSnapshot) Release() { os.Remove(s.path) }

// ---- exported API -------------------------------------------------------------------------------

// shoal_raft_start opens (or creates) the node's state under dir, listens on bind and starts raft.
// configKeys/configValues name raft.Config fields and their values. On success *handle is set;
// the callbacks are copied and may be called (restore) before this returns.
//
//export shoal_raft_start
func shoal_raft_start(id, bind, advertise, dir *C.shoal_raft_cchar,
	configKeys, configValues *C.shoal_raft_cstrings, configCount C.size_t,
	tlsCert, tlsKey, tlsCA *C.shoal_raft_cchar, readLease C.int,
	callbacks *C.shoal_raft_callbacks, handle *C.uintptr_t, errOut **C.char) C.int {
	n := &node{id: goString(id), dir: goString(dir), fsmStop: make(chan struct{})}
	n.cb = (*C.shoal_raft_callbacks)(C.malloc(C.size_t(unsafe.Sizeof(*callbacks))))
	*n.cb = *callbacks
	files := tlsFiles{cert: goString(tlsCert), key: goString(tlsKey), ca: goString(tlsCA)}
	if err := n.start(goString(id), goString(bind), goString(advertise),
		goStrings(configKeys, configCount), goStrings(configValues, configCount),
		files, readLease != 0); err != nil {
		n.close()
		C.free(unsafe.Pointer(n.cb))
		return fail(err, errOut)
	}
	*handle = C.uintptr_t(cgo.NewHandle(n))
	return C.SHOAL_RAFT_OK
}

func (n *node) start(id, bind, advertise string, keys, values []string, files tlsFiles,
	readLease bool) error {
	conf := raft.DefaultConfig()
	conf.LogLevel = "INFO"
	for i := range keys {
		if err := setField(conf, keys[i], values[i]); err != nil {
			return err
		}
	}
	if readLease && !contains(keys, "LeaderLeaseTimeout") {
		// Heartbeats wait in the followers' main loops with the lease on (lease.go): give them
		// the longest time raft allows before a leader without a quorum's answers steps down.
		conf.LeaderLeaseTimeout = conf.HeartbeatTimeout
	}
	conf.LocalID = raft.ServerID(id)
	conf.Logger = hclog.New(&hclog.LoggerOptions{
		Name: "raft", Level: hclogLevel(conf.LogLevel), Output: logWriter{n}, TimeFormat: " "})
	if err := raft.ValidateConfig(conf); err != nil {
		return invalidf("raft_configuration: %v", err)
	}
	if err := os.MkdirAll(n.dir, 0o755); err != nil {
		return err
	}
	var err error
	if n.lock, err = lockDir(n.dir); err != nil {
		return err
	}
	if stale, err := filepath.Glob(filepath.Join(n.dir, tempPattern)); err == nil {
		for _, path := range stale {
			os.Remove(path)
		}
	}
	if n.store, err = openStore(n.dir); err != nil {
		return err
	}
	logs, err := raft.NewLogCache(logCacheEntries, n.store)
	if err != nil {
		return err
	}
	if n.snaps, err = raft.NewFileSnapshotStoreWithLogger(n.dir, snapshotsRetain,
		conf.Logger); err != nil {
		return err
	}
	if n.layer, err = listenTCP(bind, advertise, files, n.warnf); err != nil {
		return err
	}
	n.layer.setAnswer(func() stateAnswer {
		answer, _ := n.hasState()
		return answer
	})
	n.trans = raft.NewNetworkTransportWithLogger(n.layer, transportPool, transportTimeout,
		conf.Logger)
	var trans raft.Transport = n.trans
	var stable raft.StableStore = n.store
	if readLease {
		n.lease = newReadLease(conf)
		trans = &leaseTransport{NetworkTransport: n.trans, lease: n.lease}
		stable = &termWatch{StableStore: n.store, lease: n.lease}
	}
	// A member that took part before (it has state) waits as lease.go says, and so does every
	// member with the lease on (its state may have been wiped since it last took part); messages
	// that arrive meanwhile wait in the transport (nothing consumes them yet). Members without
	// the lease wait too, so that a group in which not every member has it on yet (a rolling
	// update that turns linearizable reads on) keeps the promise as well.
	if answer, err := n.hasState(); readLease || (err == nil && answer.HasState) {
		time.Sleep(startDelay(conf))
	}
	if n.r, err = raft.NewRaft(conf, &fsm{n}, logs, stable, n.snaps, trans); err != nil {
		return err
	}
	if n.lease != nil {
		n.lease.r = n.r
	}
	return nil
}

// changing turns the read lease off until the returned function is called (see readLease.change).
func (n *node) changing(quiet time.Duration) func() {
	if n.lease == nil {
		return func() {}
	}
	return n.lease.change(quiet)
}

// close releases what start opened; safe on a partly started node.
func (n *node) close() error {
	n.shutdownOnce.Do(func() {
		close(n.fsmStop)
		if n.r != nil {
			n.shutdownErr = n.r.Shutdown().Error()
		}
		if n.trans != nil {
			n.trans.Close()
		}
		if n.layer != nil {
			n.layer.Close()
		}
		if n.store != nil {
			n.store.Close()
		}
		if n.lock != nil {
			n.lock.Close()
		}
	})
	return n.shutdownErr
}

//export shoal_raft_bootstrap
func shoal_raft_bootstrap(h C.uintptr_t, ids, addresses *C.shoal_raft_cstrings, count C.size_t,
	errOut **C.char) C.int {
	var conf raft.Configuration
	addrs := goStrings(addresses, count)
	for i, id := range goStrings(ids, count) {
		conf.Servers = append(conf.Servers, raft.Server{
			Suffrage: raft.Voter, ID: raft.ServerID(id), Address: raft.ServerAddress(addrs[i])})
	}
	return fail(getNode(h).r.BootstrapCluster(conf).Error(), errOut)
}

// shoal_raft_apply appends data to the log and waits until it is applied here (the leader).
// *response receives the apply callback's result, malloc()ed.
//
//export shoal_raft_apply
func shoal_raft_apply(h C.uintptr_t, data *C.shoal_raft_cbyte, size C.size_t, timeoutMs C.int64_t,
	index *C.uint64_t, response *C.shoal_raft_bytes, errOut **C.char) C.int {
	timeout := millis(timeoutMs)
	future := getNode(h).r.Apply(sealEntry(unsafe.Slice((*byte)(unsafe.Pointer(data)), int(size))),
		timeout)
	if err := wait(future, timeout); err != nil {
		return fail(err, errOut)
	}
	*index = C.uint64_t(future.Index())
	if resp, ok := future.Response().([]byte); ok && len(resp) > 0 {
		response.data = C.CBytes(resp)
		response.len = C.size_t(len(resp))
	}
	return C.SHOAL_RAFT_OK
}

//export shoal_raft_barrier
func shoal_raft_barrier(h C.uintptr_t, timeoutMs C.int64_t, errOut **C.char) C.int {
	return fail(wait(getNode(h).r.Barrier(millis(timeoutMs)), millis(timeoutMs)), errOut)
}

//export shoal_raft_verify_leader
func shoal_raft_verify_leader(h C.uintptr_t, timeoutMs C.int64_t, errOut **C.char) C.int {
	return fail(wait(getNode(h).r.VerifyLeader(), millis(timeoutMs)), errOut)
}

//export shoal_raft_add_voter
func shoal_raft_add_voter(h C.uintptr_t, id, address *C.shoal_raft_cchar, timeoutMs C.int64_t,
	errOut **C.char) C.int {
	n := getNode(h)
	defer n.changing(0)()
	future := n.r.AddVoter(raft.ServerID(goString(id)),
		raft.ServerAddress(goString(address)), 0, millis(timeoutMs))
	return fail(wait(future, millis(timeoutMs)), errOut)
}

//export shoal_raft_remove_server
func shoal_raft_remove_server(h C.uintptr_t, id *C.shoal_raft_cchar, timeoutMs C.int64_t,
	errOut **C.char) C.int {
	n := getNode(h)
	defer n.changing(0)()
	future := n.r.RemoveServer(raft.ServerID(goString(id)), 0, millis(timeoutMs))
	return fail(wait(future, millis(timeoutMs)), errOut)
}

// shoal_raft_leadership_transfer hands the leadership to the most up-to-date other voter.
//
//export shoal_raft_leadership_transfer
func shoal_raft_leadership_transfer(h C.uintptr_t, timeoutMs C.int64_t, errOut **C.char) C.int {
	n := getNode(h)
	if n.lease != nil {
		defer n.changing(n.lease.quiet)()
	}
	future := n.r.LeadershipTransfer()
	return fail(wait(future, millis(timeoutMs)), errOut)
}

// shoal_raft_read_lease returns 1 and sets *term to the leadership's term while this member is
// the leader and its read lease holds (lease.go); 0 otherwise, and always without a lease.
//
//export shoal_raft_read_lease
func shoal_raft_read_lease(h C.uintptr_t, term *C.uint64_t) C.int {
	n := getNode(h)
	if n.lease == nil {
		return 0
	}
	leaseTerm, ok := n.lease.holds()
	if !ok {
		return 0
	}
	*term = C.uint64_t(leaseTerm)
	return 1
}

//export shoal_raft_snapshot
func shoal_raft_snapshot(h C.uintptr_t, errOut **C.char) C.int {
	return fail(getNode(h).r.Snapshot().Error(), errOut)
}

// shoal_raft_leader sets *id and *address (malloc()ed) to the leader this node knows, or to ""
// when it knows none. 1.1.2 reports only the address; the ID comes from the configuration.
//
//export shoal_raft_leader
func shoal_raft_leader(h C.uintptr_t, id, address **C.char) {
	n := getNode(h)
	addr := n.r.Leader()
	leaderID := ""
	if addr != "" {
		if f := n.r.GetConfiguration(); f.Error() == nil {
			for _, server := range f.Configuration().Servers {
				if server.Address == addr {
					leaderID = string(server.ID)
				}
			}
		}
	}
	*id = C.CString(leaderID)
	*address = C.CString(string(addr))
}

// shoal_raft_voters returns the voters of the latest configuration (malloc()ed), one
// "id=address" per line; "" when the configuration cannot be read.
//
//export shoal_raft_voters
func shoal_raft_voters(h C.uintptr_t) *C.char {
	var lines []string
	if f := getNode(h).r.GetConfiguration(); f.Error() == nil {
		for _, server := range f.Configuration().Servers {
			if server.Suffrage == raft.Voter {
				lines = append(lines, string(server.ID)+"="+string(server.Address))
			}
		}
	}
	return C.CString(strings.Join(lines, "\n"))
}

// shoal_raft_local_address returns the transport's address (malloc()ed): the port bound for 0.
//
//export shoal_raft_local_address
func shoal_raft_local_address(h C.uintptr_t) *C.char {
	return C.CString(string(getNode(h).trans.LocalAddr()))
}

//export shoal_raft_stats
func shoal_raft_stats(h C.uintptr_t, out *C.shoal_raft_statistics) {
	r := getNode(h).r
	stats := r.Stats()
	number := func(key string) C.uint64_t {
		v, _ := strconv.ParseUint(stats[key], 10, 64)
		return C.uint64_t(v)
	}
	out.role = C.int(r.State())
	out.term = number("term")
	out.last_log_index = number("last_log_index")
	out.commit_index = number("commit_index")
	out.applied_index = C.uint64_t(r.AppliedIndex())
	out.last_snapshot_index = number("last_snapshot_index")
	switch last := r.LastContact(); {
	case r.State() == raft.Leader:
		out.last_contact_ms = 0
	case last.IsZero():
		out.last_contact_ms = -1
	default:
		out.last_contact_ms = C.int64_t(time.Since(last).Milliseconds())
	}
}

// shoal_raft_shutdown stops raft and closes the transport and the log store. Idempotent; every
// later call on the handle fails with SHOAL_RAFT_SHUTDOWN.
//
//export shoal_raft_shutdown
func shoal_raft_shutdown(h C.uintptr_t, errOut **C.char) C.int {
	return fail(getNode(h).close(), errOut)
}

// shoal_raft_free shuts the node down if needed and releases the handle; no callback runs after
// it returns.
//
//export shoal_raft_free
func shoal_raft_free(h C.uintptr_t) {
	n := getNode(h)
	n.close()
	n.logMu.Lock()
	n.logClosed = true
	n.logMu.Unlock()
	C.free(unsafe.Pointer(n.cb))
	cgo.Handle(h).Delete()
}

func main() {}

func contains(list []string, item string) bool {
	for _, x := range list {
		if x == item {
			return true
		}
	}
	return false
}
