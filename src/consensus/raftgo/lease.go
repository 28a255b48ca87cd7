// The leader's read lease: a leader serves a linearizable read without a quorum round while a
// quorum of the voters acknowledged, less than the lease ago, a message it sent them.
//
// Why that is safe with hashicorp/raft 1.1.2: a follower that accepted an AppendEntries (a
// heartbeat or entries) from the leader refuses to vote for anyone else until it has heard
// nothing from that leader for HeartbeatTimeout (requestVote rejects a candidate while the
// follower knows a leader; the follower forgets it only when its heartbeat timer finds no contact
// for HeartbeatTimeout). A new leader needs a quorum of votes, and any quorum includes a member
// of the acknowledging one, so none can be elected before the earliest acknowledged send time +
// HeartbeatTimeout. The lease ends earlier: at that time + 9/10 of HeartbeatTimeout (clock rates
// may differ a little). Three events break the promise, and the lease handles each:
//   - a leadership transfer makes the target campaign with votes granted despite a known leader:
//     the lease is off while one runs and acknowledgements of messages sent before its end plus
//     two ElectionTimeouts (the longest the target's flagged campaign lasts) do not count;
//   - a member that restarts forgets its leader: with the lease on, a member waits
//     HeartbeatTimeout after its start before raft runs (startDelay), so it votes no earlier than
//     it would have without the restart;
//   - a membership change alters the quorum: the lease is off while one runs and the voters are
//     read again after it.
package main

import (
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

type readLease struct {
	r        *raft.Raft // set once raft runs
	localID  raft.ServerID
	duration time.Duration // 9/10 of HeartbeatTimeout
	quiet    time.Duration // after a leadership transfer: two ElectionTimeouts

	mu        sync.Mutex
	term      uint64                      // the leadership's, or of the acknowledgements kept
	acked     map[raft.ServerID]time.Time // the send time of the last acknowledged message
	notBefore time.Time                   // acknowledgements of messages sent earlier do not count
	changes   int                         // membership changes and transfers running
	voters    []raft.ServerID             // nil: read the configuration at the next check
	version   uint64                      // counts the events that make voters stale
}

func newReadLease(conf *raft.Config) *readLease {
	return &readLease{localID: conf.LocalID, duration: conf.HeartbeatTimeout * 9 / 10,
		quiet: 2 * conf.ElectionTimeout, acked: map[raft.ServerID]time.Time{}}
}

// startDelay is how long a member waits at start before raft runs (see the package comment).
func startDelay(conf *raft.Config) time.Duration { return conf.HeartbeatTimeout }

// acknowledged records that `id` accepted a message of `term` sent at `sent`.
func (l *readLease) acknowledged(id raft.ServerID, term uint64, sent time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if term < l.term {
		return
	}
	if term > l.term {
		l.term = term
		l.acked = map[raft.ServerID]time.Time{}
		l.voters = nil
		l.version++
	}
	if sent.After(l.acked[id]) {
		l.acked[id] = sent
	}
}

// holds returns the leadership's term and true while this member is the leader and the lease
// holds; it may read the configuration (a round trip through raft's main loop) once per term or
// membership change.
func (l *readLease) holds() (uint64, bool) {
	if l.r == nil || l.r.State() != raft.Leader {
		return 0, false
	}
	l.mu.Lock()
	if l.changes > 0 {
		l.mu.Unlock()
		return 0, false
	}
	if l.voters == nil {
		version := l.version
		l.mu.Unlock()
		future := l.r.GetConfiguration()
		if future.Error() != nil {
			return 0, false
		}
		voters := []raft.ServerID{}
		for _, server := range future.Configuration().Servers {
			if server.Suffrage == raft.Voter {
				voters = append(voters, server.ID)
			}
		}
		// The term too: a leader alone in its group hears no acknowledgements.
		term, err := strconv.ParseUint(l.r.Stats()["term"], 10, 64)
		if err != nil {
			return 0, false
		}
		l.mu.Lock()
		if version != l.version || l.changes > 0 || term < l.term {
			l.mu.Unlock()
			return 0, false // changed meanwhile: the next check reads it again
		}
		if term > l.term {
			l.term = term
			l.acked = map[raft.ServerID]time.Time{}
		}
		l.voters = voters
	}
	defer l.mu.Unlock()
	now := time.Now()
	contacted := 0
	for _, id := range l.voters {
		if id == l.localID {
			contacted++
			continue
		}
		if sent, ok := l.acked[id]; ok && !sent.Before(l.notBefore) &&
			now.Sub(sent) < l.duration {
			contacted++
		}
	}
	return l.term, contacted > 0 && contacted >= len(l.voters)/2+1
}

// change turns the lease off for a membership change or a leadership transfer; the returned
// function turns it back on, counting only messages sent `quiet` after it is called.
func (l *readLease) change(quiet time.Duration) func() {
	l.mu.Lock()
	l.changes++
	l.voters = nil
	l.version++
	l.mu.Unlock()
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.changes--
		l.voters = nil
		l.version++
		if after := time.Now().Add(quiet); after.After(l.notBefore) {
			l.notBefore = after
		}
	}
}

// leaseTransport is raft's network transport, telling the lease which AppendEntries calls
// (heartbeats and the entries sent outside the pipeline) each follower accepted.
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
