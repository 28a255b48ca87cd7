// Unit tests of the read lease's bookkeeping (lease.go), without a raft group: acknowledgements,
// terms, the quorum count, membership changes and leadership transfers. The safety argument
// itself is in lease.go; RaftNode's tests run the lease in a real group.
package main

import (
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

const (
	heartbeatTimeout = 1000 * time.Millisecond
	electionTimeout  = 1000 * time.Millisecond
)

func testLease() *readLease {
	conf := raft.DefaultConfig()
	conf.LocalID = "a"
	conf.HeartbeatTimeout = heartbeatTimeout
	conf.ElectionTimeout = electionTimeout
	return newReadLease(conf)
}

// inTerm5 is a lease of a leader in term 5 of the group a (itself), b, c.
func inTerm5() (*readLease, []raft.Server) {
	l := testLease()
	l.newTerm(5)
	return l, voters("a", "b", "c")
}

func voters(ids ...raft.ServerID) []raft.Server {
	var servers []raft.Server
	for _, id := range ids {
		servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: id})
	}
	return servers
}

func expectHolds(t *testing.T, l *readLease, at time.Time, servers []raft.Server, want bool,
	wantTerm uint64, what string) {
	t.Helper()
	term, ok := l.holdsAt(at, servers)
	if ok != want || (ok && term != wantTerm) {
		t.Errorf("%s: holds = (%d, %v), want (%d, %v)", what, term, ok, wantTerm, want)
	}
}

func TestTheLeaseNeedsAQuorumOfRecentAcknowledgements(t *testing.T) {
	l := testLease()
	l.newTerm(5)
	group := voters("a", "b", "c")
	now := time.Now()
	expectHolds(t, l, now, group, false, 0, "no acknowledgement")
	l.acknowledged("b", 5, now)
	expectHolds(t, l, now.Add(100*time.Millisecond), group, true, 5, "b acknowledged")
	expectHolds(t, l, now.Add(899*time.Millisecond), group, true, 5, "within 9/10 of HT")
	expectHolds(t, l, now.Add(900*time.Millisecond), group, false, 0, "9/10 of HT later")
	l.acknowledged("b", 5, now.Add(-time.Second)) // an older message does not move it back
	expectHolds(t, l, now.Add(100*time.Millisecond), group, true, 5, "older message")

	// Four voters need three: the leader and b are not enough; non-voters do not count.
	four := append(voters("a", "b", "c", "d"), raft.Server{Suffrage: raft.Nonvoter, ID: "e"})
	l.acknowledged("e", 5, now)
	expectHolds(t, l, now, four, false, 0, "two of four voters")
	l.acknowledged("c", 5, now)
	expectHolds(t, l, now, four, true, 5, "three of four voters")
	// A leader alone in its group is its own quorum; one being removed does not count itself.
	expectHolds(t, l, now, voters("a"), true, 5, "group of one")
	expectHolds(t, l, now, voters("b", "c", "d", "f"), false, 0, "leader not a voter, 2 of 4")
	expectHolds(t, l, now, voters("b", "c", "d"), true, 5, "leader not a voter, 2 of 3")
}

func TestAcknowledgementsOfAnotherTermDoNotCount(t *testing.T) {
	l := testLease()
	group := voters("a", "b", "c")
	now := time.Now()
	l.newTerm(5)
	l.acknowledged("b", 4, now)
	expectHolds(t, l, now, group, false, 0, "acknowledged in term 4")
	l.acknowledged("b", 5, now)
	expectHolds(t, l, now, group, true, 5, "acknowledged in term 5")
	l.newTerm(6)
	expectHolds(t, l, now, group, false, 0, "term 6 began")
	l.acknowledged("c", 6, now)
	expectHolds(t, l, now, group, true, 6, "acknowledged in term 6")
}

func TestTheLeaseIsOffDuringAMembershipChangeAndCountsLaterMessagesOnly(t *testing.T) {
	l, group := inTerm5()
	before := time.Now()
	l.acknowledged("b", 5, before)
	done := l.change(0)
	expectHolds(t, l, before, group, false, 0, "during the change")
	time.Sleep(time.Millisecond)
	done()
	expectHolds(t, l, before, group, false, 0, "message sent before the change ended")
	after := time.Now()
	l.acknowledged("b", 5, after)
	expectHolds(t, l, after, group, true, 5, "message sent after it")
}

func TestATransferTurnsTheLeaseOffForTheRestOfItsTerm(t *testing.T) {
	l, group := inTerm5()
	now := time.Now()
	l.acknowledged("b", 5, now)
	done := l.transferring()
	expectHolds(t, l, now, group, false, 0, "TimeoutNow in flight")
	done()
	later := time.Now().Add(2*electionTimeout + time.Millisecond)
	l.acknowledged("b", 5, later)
	expectHolds(t, l, later, group, false, 0, "the rest of term 5")
	l.newTerm(6)
	l.acknowledged("b", 6, later.Add(-time.Second))
	expectHolds(t, l, later, group, false, 0, "term 6, a message sent within the quiet time")
	l.acknowledged("b", 6, later)
	expectHolds(t, l, later, group, true, 6, "term 6, after the quiet time")
}

func TestTheStableStoreTellsTheLeaseOfANewTerm(t *testing.T) {
	l := testLease()
	store := &termWatch{StableStore: raft.NewInmemStore(), lease: l}
	if err := store.SetUint64([]byte("CurrentTerm"), 7); err != nil {
		t.Fatal(err)
	}
	if err := store.SetUint64([]byte("LastVoteTerm"), 9); err != nil {
		t.Fatal(err)
	}
	if stored, _ := store.GetUint64([]byte("CurrentTerm")); stored != 7 || l.term != 7 {
		t.Errorf("stored term %d, lease term %d, want 7 and 7", stored, l.term)
	}
}
