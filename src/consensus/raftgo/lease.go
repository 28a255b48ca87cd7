// The leader's read lease: a leader serves a linearizable read without a quorum round while a
// quorum of the voters acknowledged, less than the lease ago, a message it sent them in its
// current term.
//
// Why that is safe with hashicorp/raft 1.1.2: a follower that accepted an AppendEntries (a
// heartbeat or entries) from the leader refuses to vote for anyone else until it has heard
// nothing from that leader for HeartbeatTimeout (requestVote rejects a candidate while the
// follower knows a leader; the follower forgets it only when its heartbeat timer finds no contact
// for HeartbeatTimeout). A new leader needs a quorum of votes, and any quorum includes a member
// of the acknowledging one, so none can be elected before the earliest acknowledged send time +
// HeartbeatTimeout. The lease ends earlier: at that time + 9/10 of HeartbeatTimeout (clock rates
// may differ a little). What else could break the promise, and how each is kept out:
//   - heartbeats answered by the transport beside raft's main loop (the fast path) could be
//     acknowledged while the member grants a vote: with the lease on, heartbeats go through the
//     main loop, in order with votes and timeouts (SetHeartbeatHandler below);
//   - a leadership transfer makes its target campaign with votes granted despite a known
//     leader: the lease is off while its TimeoutNow message is in flight (up to the transport's
//     timeout), for the rest of the term in which one was sent, and acknowledgements of messages
//     sent before two ElectionTimeouts after it ended do not count. (TimeoutNow carries no term:
//     a target that stalls for longer than the transport's timeout and reads it later could
//     still campaign that way; the lease assumes no member stalls that long during a transfer.)
//   - a new term (acknowledgements and voters of another term say nothing): the lease restarts
//     whenever raft stores a new current term (termWatch), before it acts in that term;
//   - a member that restarts forgets its leader: a member waits HeartbeatTimeout after its start
//     before raft runs (startDelay), so it votes no earlier than it would have without the
//     restart;
//   - a membership change alters the quorum: the lease is off while one runs, and the voters are
//     those of the latest configuration at each check.
package main

import (
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

type readLease struct {
	r        *raft.Raft // set once raft runs
	localID  raft.ServerID
	duration time.Duration // 9/10 of HeartbeatTimeout
	quiet    time.Duration // after a leadership transfer: two ElectionTimeouts

	mu           sync.Mutex
	term         uint64                      // the current term, as raft stored it last
	acked        map[raft.ServerID]time.Time // in term: the send time of the last acknowledged message
	notBefore    time.Time                   // acknowledgements of messages sent earlier do not count
	changes      int                         // membership changes and transfers running
	transferTerm uint64                      // a term in which a leadership transfer was tried
}

func newReadLease(conf *raft.Config) *readLease {
	return &readLease{localID: conf.LocalID, duration: conf.HeartbeatTimeout * 9 / 10,
		quiet: 2 * conf.ElectionTimeout, acked: map[raft.ServerID]time.Time{}}
}

// startDelay is how long a member waits at start before raft runs (see the package comment).
func startDelay(conf *raft.Config) time.Duration { return conf.HeartbeatTimeout }

// newTerm restarts the lease in `term`.
func (l *readLease) newTerm(term uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if term != l.term {
		l.term = term
		l.acked = map[raft.ServerID]time.Time{}
	}
}

// acknowledged records that `id` accepted a message of `term` sent at `sent`.
func (l *readLease) acknowledged(id raft.ServerID, term uint64, sent time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if term == l.term && sent.After(l.acked[id]) {
		l.acked[id] = sent
	}
}

// holds returns the leadership's term and true while this member is the leader and the lease
// holds. Never blocks for long.
func (l *readLease) holds() (uint64, bool) {
	if l.r == nil || l.r.State() != raft.Leader {
		return 0, false
	}
	future := l.r.GetConfiguration() // 1.1.2: a copy of the latest, without waiting
	if future.Error() != nil {
		return 0, false
	}
	return l.holdsAt(time.Now(), future.Configuration().Servers)
}

// holdsAt is holds() at `now` for a leader whose latest configuration has `servers`.
func (l *readLease) holdsAt(now time.Time, servers []raft.Server) (uint64, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.changes > 0 || l.term == l.transferTerm {
		return 0, false
	}
	voters, contacted := 0, 0
	for _, server := range servers {
		if server.Suffrage != raft.Voter {
			continue
		}
		voters++
		if server.ID == l.localID {
			contacted++
		} else if sent, ok := l.acked[server.ID]; ok && !sent.Before(l.notBefore) &&
			now.Sub(sent) < l.duration {
			contacted++
		}
	}
	return l.term, contacted > 0 && contacted >= voters/2+1
}

// change turns the lease off for a membership change or a leadership transfer; the returned
// function turns it back on, counting only messages sent `quiet` after it is called.
func (l *readLease) change(quiet time.Duration) func() {
	l.mu.Lock()
	l.changes++
	l.mu.Unlock()
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.changes--
		if after := time.Now().Add(quiet); after.After(l.notBefore) {
			l.notBefore = after
		}
	}
}

// transferring turns the lease off for a TimeoutNow message in flight and the rest of its term.
func (l *readLease) transferring() func() {
	l.mu.Lock()
	l.transferTerm = l.term
	l.mu.Unlock()
	return l.change(l.quiet)
}

// leaseTransport is raft's network transport, telling the lease which AppendEntries calls
// (heartbeats and the entries sent outside the pipeline) each follower accepted, and when a
// leadership transfer's TimeoutNow is in flight.
type leaseTransport struct {
	*raft.NetworkTransport
	lease *readLease
}

func (t *leaseTransport) AppendEntries(id raft.ServerID, target raft.ServerAddress,
	args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) error {
	sent := time.Now()
	err := t.NetworkTransport.AppendEntries(id, target, args, resp)
	if err == nil && resp.Success && resp.Term == args.Term {
		t.lease.acknowledged(id, args.Term, sent)
	}
	return err
}

func (t *leaseTransport) TimeoutNow(id raft.ServerID, target raft.ServerAddress,
	args *raft.TimeoutNowRequest, resp *raft.TimeoutNowResponse) error {
	defer t.lease.transferring()()
	return t.NetworkTransport.TimeoutNow(id, target, args, resp)
}

// SetHeartbeatHandler keeps heartbeats on raft's main loop (see the package comment).
func (t *leaseTransport) SetHeartbeatHandler(func(rpc raft.RPC)) {}

// termWatch is raft's stable store, telling the lease of each new current term before raft
// acts in it (raft stores the term first).
type termWatch struct {
	raft.StableStore
	lease *readLease
}

func (w *termWatch) SetUint64(key []byte, val uint64) error {
	if string(key) == "CurrentTerm" {
		w.lease.newTerm(val)
	}
	return w.StableStore.SetUint64(key, val)
}
