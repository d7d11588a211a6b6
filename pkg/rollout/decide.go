package rollout

import (
	"fmt"
	"time"
)

// Phases of a cluster's agents (State.Phase).
const (
	// PhaseUpToDate: both workloads run the image the server ships.
	PhaseUpToDate = "UpToDate"
	// PhaseWaiting: they run another image and wait for a free slot
	// (Options.MaxInFlight).
	PhaseWaiting = "Waiting"
	// PhaseRolling: the server patched them and waits for the new agents.
	PhaseRolling = "Rolling"
	// PhaseRolledBack: the new agents did not connect in time; the
	// previous images are back and this image is not tried again on this
	// cluster until the annotation AnnotationFailed is removed or the
	// server ships another image.
	PhaseRolledBack = "RolledBack"
	// PhaseOff: roll-out is turned off (the server neither reads nor
	// writes the workloads).
	PhaseOff = "Off"
	// PhaseUnmanaged: there is no agent Deployment to roll (agents not run
	// by an import manifest).
	PhaseUnmanaged = "Unmanaged"
	// PhaseError: the workloads could not be read or patched.
	PhaseError = "Error"
)

// State is what the cluster's status shows of its agents' roll-out
// (controller.Status.Agent, in the API's cluster view).
type State struct {
	Phase string `json:"phase"`
	// Image and NodeImage are the agent images the Deployment and the
	// DaemonSet run (NodeImage empty without node agents).
	Image     string `json:"image,omitempty"`
	NodeImage string `json:"nodeImage,omitempty"`
	// AgentVersion is what the connected cluster agent reports; empty for
	// agents that do not report one.
	AgentVersion string `json:"agentVersion,omitempty"`
	// Target and TargetVersion are what the server ships.
	Target        string `json:"target,omitempty"`
	TargetVersion string `json:"targetVersion,omitempty"`
	// Since is when the roll in flight began, or when the last one was
	// rolled back.
	Since *time.Time `json:"since,omitempty"`
	// Reason says why (a roll-back's cause, an error).
	Reason string `json:"reason,omitempty"`
}

// workload is what decide needs of a Deployment or DaemonSet.
type workload struct {
	image string
	// done: the controller saw the latest spec and every pod runs it and
	// is available (for the agents: its tunnel is open).
	done bool
	// progress describes the rollout for a reason ("1/2 updated, 1
	// available").
	progress string
}

// observed is one look at a cluster.
type observed struct {
	now    time.Time
	deploy *workload // nil: no Deployment
	nodes  *workload // nil: no DaemonSet
	// annotations are the Deployment's, where a roll's state lives;
	// resourceVersion is the version read.
	annotations     map[string]string
	resourceVersion string
	// agentVersion and connectedAt are the live cluster agent session's.
	agentVersion string
	connectedAt  time.Time
}

type action int

const (
	actNone action = iota
	actStart
	actFinish
	actRollBack
)

func (a action) String() string {
	return [...]string{"none", "start", "finish", "roll back"}[a]
}

// flight is a roll in flight, as recorded on the Deployment.
type flight struct {
	target, targetVersion  string
	started                time.Time
	previous, previousNode string
}

func flightOf(ann map[string]string) (flight, bool) {
	f := flight{target: ann[AnnotationTarget], targetVersion: ann[AnnotationTargetVersion],
		previous: ann[AnnotationPrevious], previousNode: ann[AnnotationPreviousNode]}
	if f.target == "" {
		return flight{}, false
	}
	// A start time that cannot be read counts as long ago: the roll is
	// judged (and rolled back) at once rather than never.
	f.started, _ = time.Parse(time.RFC3339Nano, ann[AnnotationStarted])
	return f, true
}

// decide says what to do with a cluster, given what the server ships and
// the timeout; take is asked for a slot only when a roll would start. It
// is the whole state machine; Step reads and writes around it.
func decide(t Target, timeout time.Duration, o observed, take func() bool) (action, State) {
	st := State{Target: t.Image, TargetVersion: t.Version, AgentVersion: o.agentVersion}
	if o.deploy == nil {
		st.Phase, st.Reason = PhaseUnmanaged, "no agent Deployment to roll"
		return actNone, st
	}
	st.Image = o.deploy.image
	if o.nodes != nil {
		st.NodeImage = o.nodes.image
	}
	if f, ok := flightOf(o.annotations); ok {
		since := f.started
		st.Since, st.Target, st.TargetVersion = &since, f.target, f.targetVersion
		if rolledOut(f, o) {
			st.Phase = PhaseUpToDate
			return actFinish, st
		}
		if o.now.Sub(f.started) > timeout {
			st.Phase = PhaseRolledBack
			st.Reason = fmt.Sprintf("the new agents did not connect within %v: %s", timeout, progress(f, o))
			return actRollBack, st
		}
		st.Phase, st.Reason = PhaseRolling, progress(f, o)
		return actNone, st
	}
	if o.deploy.image == t.Image && (o.nodes == nil || o.nodes.image == t.Image) {
		st.Phase = PhaseUpToDate
		return actNone, st
	}
	if o.annotations[AnnotationFailed] == t.Image {
		st.Phase, st.Reason = PhaseRolledBack, o.annotations[AnnotationFailedReason]
		if at, err := time.Parse(time.RFC3339Nano, o.annotations[AnnotationFailedAt]); err == nil {
			st.Since = &at
		}
		return actNone, st
	}
	if !take() {
		st.Phase, st.Reason = PhaseWaiting, "other clusters' roll-outs take every slot"
		return actNone, st
	}
	now := o.now
	st.Phase, st.Since = PhaseRolling, &now
	return actStart, st
}

// rolledOut says whether a roll in flight is done: both workloads run the
// target, every pod is updated and available, and the cluster agent that
// the controller talks to is a new one (it reports the target version, or,
// when the server does not know the version, it connected after the roll
// began).
func rolledOut(f flight, o observed) bool {
	if o.deploy.image != f.target || !o.deploy.done {
		return false
	}
	if o.nodes != nil && (o.nodes.image != f.target || !o.nodes.done) {
		return false
	}
	if f.targetVersion != "" {
		return o.agentVersion == f.targetVersion
	}
	return o.connectedAt.After(f.started)
}

func progress(f flight, o observed) string {
	s := "cluster agent " + o.deploy.progress
	if o.nodes != nil {
		s += "; node agents " + o.nodes.progress
	}
	switch {
	case f.targetVersion != "" && o.agentVersion != f.targetVersion:
		v := o.agentVersion
		if v == "" {
			v = "none"
		}
		s += fmt.Sprintf("; the connected cluster agent reports version %s, want %s", v, f.targetVersion)
	case f.targetVersion == "" && !o.connectedAt.After(f.started):
		s += "; the connected cluster agent is one from before the roll"
	}
	return s
}
