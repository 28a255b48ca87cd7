// Bootstrapping a group only when the whole group is new (Consul's rule for bootstrap_expect: a
// member with state never bootstraps; one without bootstraps only once every expected member
// has answered that it has none). A member without state that finds a peer with state joins it
// instead: the leader sends it the log or a snapshot.
package main

/*
#include <stdlib.h>
#include "bridge.h"
*/
import "C"

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/raft"
)

const (
	stateQueryTimeout = 2 * time.Second
	stateQueryPause   = 200 * time.Millisecond
	waitingReport     = 5 * time.Second
)

// unsafeError is a start that has no safe choice: bootstrapping could lose a group's data.
type unsafeError struct{ msg string }

func (e *unsafeError) Error() string { return e.msg }

// hasState says whether this member has a log, a snapshot or a term: it was part of a group.
func (n *node) hasState() (stateAnswer, error) {
	answer := stateAnswer{ID: n.id}
	existing, err := raft.HasExistingState(n.store, n.store, n.snaps)
	if err != nil {
		return answer, err
	}
	answer.HasState = existing
	answer.LastIndex, _ = n.store.LastIndex()
	answer.Term, _ = n.store.GetUint64([]byte("CurrentTerm"))
	return answer, nil
}

// peerReport is what one peer said, for the messages.
type peerReport struct {
	id, address string
	answer      stateAnswer
	err         error
}

func (p peerReport) String() string {
	switch {
	case p.err != nil:
		return fmt.Sprintf("%s (%s) did not answer: %v", p.id, p.address, p.err)
	case p.answer.HasState:
		return fmt.Sprintf("%s (%s) has Raft state (last index %d, term %d)", p.id, p.address,
			p.answer.LastIndex, p.answer.Term)
	}
	return fmt.Sprintf("%s (%s) has no Raft state", p.id, p.address)
}

// bootstrapGroup bootstraps conf when neither this member nor any peer has state, waiting up to
// `wait` for every peer to answer. Returns joined=true when a peer has state (nothing is
// bootstrapped: its leader will replicate to this member), raft.ErrCantBootstrap when this
// member has state, and an unsafeError when not every peer answered in time.
func (n *node) bootstrapGroup(conf raft.Configuration, wait time.Duration) (bool, error) {
	own, err := n.hasState()
	if err != nil {
		return false, err
	}
	if own.HasState {
		return false, raft.ErrCantBootstrap
	}
	deadline := time.Now().Add(wait)
	nextReport := time.Now().Add(waitingReport)
	for {
		reports := n.askPeers(conf)
		silent := 0
		for _, report := range reports {
			if report.err == nil && report.answer.HasState {
				n.infof("this member has no Raft state and %s: it joins that group instead of "+
					"bootstrapping a new one (its leader sends the log or a snapshot)", report)
				return true, nil
			}
			if report.err != nil {
				silent++
			}
		}
		if silent == 0 {
			return false, n.r.BootstrapCluster(conf).Error()
		}
		if time.Now().After(deadline) {
			return false, &unsafeError{fmt.Sprintf("member %s has no Raft state and cannot tell "+
				"whether its group is new, so it does not bootstrap one (that could replace the "+
				"group's data): %s. Start the members that did not answer; if every member's "+
				"state is really gone, start them all with empty workspaces to begin a new group",
				n.id, joinReports(reports))}
		}
		if time.Now().After(nextReport) {
			n.warnf("waiting for every member to answer before bootstrapping a new group: %s",
				joinReports(reports))
			nextReport = time.Now().Add(waitingReport)
		}
		time.Sleep(stateQueryPause)
	}
}

func (n *node) askPeers(conf raft.Configuration) []peerReport {
	var reports []peerReport
	for _, server := range conf.Servers {
		if string(server.ID) == n.id {
			continue
		}
		report := peerReport{id: string(server.ID), address: string(server.Address)}
		report.answer, report.err = n.layer.queryState(report.address, stateQueryTimeout)
		reports = append(reports, report)
	}
	sort.Slice(reports, func(i, j int) bool { return reports[i].id < reports[j].id })
	return reports
}

func joinReports(reports []peerReport) string {
	texts := make([]string, len(reports))
	for i, report := range reports {
		texts[i] = report.String()
	}
	return strings.Join(texts, "; ")
}

// shoal_raft_bootstrap_group bootstraps a new group with these voters only when no member has
// state (bootstrap.go), waiting up to waitMs for every peer to answer. *joined is set when a
// peer has state: this member then waits for that group's leader instead.
//
//export shoal_raft_bootstrap_group
func shoal_raft_bootstrap_group(h C.uintptr_t, ids, addresses *C.shoal_raft_cstrings,
	count C.size_t, waitMs C.int64_t, joined *C.int, errOut **C.char) C.int {
	var conf raft.Configuration
	addrs := goStrings(addresses, count)
	for i, id := range goStrings(ids, count) {
		conf.Servers = append(conf.Servers, raft.Server{
			Suffrage: raft.Voter, ID: raft.ServerID(id), Address: raft.ServerAddress(addrs[i])})
	}
	join, err := getNode(h).bootstrapGroup(conf, millis(waitMs))
	if join {
		*joined = 1
	}
	return fail(err, errOut)
}
