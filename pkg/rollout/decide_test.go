package rollout

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDecide(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	started := t0.Add(-time.Minute)
	const (
		oldImg = "reg/drover-agent:a"
		newImg = "reg/drover-agent:b"
	)
	target := Target{Image: newImg, Version: "b"}
	done := func(img string) *workload {
		return &workload{image: img, done: true, progress: "1/1 updated, 1 available"}
	}
	pending := func(img string) *workload { return &workload{image: img, progress: "0/1 updated, 1 available"} }
	inFlight := func(version string) map[string]string {
		return map[string]string{AnnotationTarget: newImg, AnnotationTargetVersion: version,
			AnnotationStarted: started.Format(time.RFC3339Nano), AnnotationPrevious: oldImg, AnnotationPreviousNode: oldImg}
	}
	failedAt := t0.Add(-time.Hour)
	failed := map[string]string{AnnotationFailed: newImg, AnnotationFailedReason: "did not connect",
		AnnotationFailedAt: failedAt.Format(time.RFC3339Nano)}
	tests := []struct {
		name     string
		target   Target
		o        observed
		slotFree bool
		want     action
		wantSt   State
		asked    bool // whether a slot was asked for
	}{
		{
			name: "no Deployment: agents not run by a manifest", target: target, o: observed{now: t0}, slotFree: true,
			want: actNone, wantSt: State{Phase: PhaseUnmanaged, Target: newImg, TargetVersion: "b", Reason: "no agent Deployment to roll"},
		},
		{
			name: "both workloads run the target", target: target,
			o: observed{now: t0, deploy: done(newImg), nodes: done(newImg), agentVersion: "b"}, slotFree: true,
			want: actNone, wantSt: State{Phase: PhaseUpToDate, Image: newImg, NodeImage: newImg, AgentVersion: "b", Target: newImg, TargetVersion: "b"},
		},
		{
			name: "an old agent that reports no version: start", target: target,
			o: observed{now: t0, deploy: done(oldImg), nodes: done(oldImg)}, slotFree: true, asked: true,
			want: actStart, wantSt: State{Phase: PhaseRolling, Image: oldImg, NodeImage: oldImg, Target: newImg, TargetVersion: "b", Since: &t0},
		},
		{
			name: "only the DaemonSet is behind: start", target: target,
			o: observed{now: t0, deploy: done(newImg), nodes: done(oldImg), agentVersion: "b"}, slotFree: true, asked: true,
			want: actStart, wantSt: State{Phase: PhaseRolling, Image: newImg, NodeImage: oldImg, AgentVersion: "b", Target: newImg, TargetVersion: "b", Since: &t0},
		},
		{
			name: "no node agents: the Deployment alone", target: target,
			o: observed{now: t0, deploy: done(oldImg), agentVersion: "a"}, slotFree: true, asked: true,
			want: actStart, wantSt: State{Phase: PhaseRolling, Image: oldImg, AgentVersion: "a", Target: newImg, TargetVersion: "b", Since: &t0},
		},
		{
			name: "no free slot: wait", target: target,
			o: observed{now: t0, deploy: done(oldImg), nodes: done(oldImg), agentVersion: "a"}, slotFree: false, asked: true,
			want: actNone, wantSt: State{Phase: PhaseWaiting, Image: oldImg, NodeImage: oldImg, AgentVersion: "a", Target: newImg, TargetVersion: "b",
				Reason: "other clusters' roll-outs take every slot"},
		},
		{
			name: "this image was rolled back here: hold, and ask for no slot", target: target,
			o: observed{now: t0, deploy: done(oldImg), nodes: done(oldImg), agentVersion: "a", annotations: failed}, slotFree: true,
			want: actNone, wantSt: State{Phase: PhaseRolledBack, Image: oldImg, NodeImage: oldImg, AgentVersion: "a", Target: newImg, TargetVersion: "b",
				Since: &failedAt, Reason: "did not connect"},
		},
		{
			name: "another image than the one rolled back: start", target: Target{Image: "reg/drover-agent:c", Version: "c"},
			o: observed{now: t0, deploy: done(oldImg), nodes: done(oldImg), agentVersion: "a", annotations: failed}, slotFree: true, asked: true,
			want: actStart, wantSt: State{Phase: PhaseRolling, Image: oldImg, NodeImage: oldImg, AgentVersion: "a", Target: "reg/drover-agent:c", TargetVersion: "c", Since: &t0},
		},
		{
			name: "in flight, pods not yet updated", target: target,
			o:    observed{now: t0, deploy: pending(newImg), nodes: pending(newImg), agentVersion: "a", annotations: inFlight("b")},
			want: actNone, wantSt: State{Phase: PhaseRolling, Image: newImg, NodeImage: newImg, AgentVersion: "a", Target: newImg, TargetVersion: "b", Since: &started,
				Reason: "cluster agent 0/1 updated, 1 available; node agents 0/1 updated, 1 available; the connected cluster agent reports version a, want b"},
		},
		{
			name: "in flight, pods done but the old cluster agent still connected", target: target,
			o:    observed{now: t0, deploy: done(newImg), nodes: done(newImg), agentVersion: "a", annotations: inFlight("b")},
			want: actNone, wantSt: State{Phase: PhaseRolling, Image: newImg, NodeImage: newImg, AgentVersion: "a", Target: newImg, TargetVersion: "b", Since: &started,
				Reason: "cluster agent 1/1 updated, 1 available; node agents 1/1 updated, 1 available; the connected cluster agent reports version a, want b"},
		},
		{
			name: "in flight, done and the new agent reports the version: finish", target: target,
			o:    observed{now: t0, deploy: done(newImg), nodes: done(newImg), agentVersion: "b", annotations: inFlight("b")},
			want: actFinish, wantSt: State{Phase: PhaseUpToDate, Image: newImg, NodeImage: newImg, AgentVersion: "b", Target: newImg, TargetVersion: "b", Since: &started},
		},
		{
			name: "in flight without a known version: the session from before the roll is not enough", target: Target{Image: newImg},
			o:    observed{now: t0, deploy: done(newImg), nodes: done(newImg), annotations: inFlight(""), connectedAt: started.Add(-time.Second)},
			want: actNone, wantSt: State{Phase: PhaseRolling, Image: newImg, NodeImage: newImg, Target: newImg, Since: &started,
				Reason: "cluster agent 1/1 updated, 1 available; node agents 1/1 updated, 1 available; the connected cluster agent is one from before the roll"},
		},
		{
			name: "in flight without a known version: a session after the roll finishes it", target: Target{Image: newImg},
			o:    observed{now: t0, deploy: done(newImg), nodes: done(newImg), annotations: inFlight(""), connectedAt: started.Add(time.Second)},
			want: actFinish, wantSt: State{Phase: PhaseUpToDate, Image: newImg, NodeImage: newImg, Target: newImg, Since: &started},
		},
		{
			name: "in flight past the timeout: roll back", target: target,
			o:    observed{now: started.Add(5*time.Minute + time.Second), deploy: pending(newImg), nodes: done(newImg), agentVersion: "a", annotations: inFlight("b")},
			want: actRollBack, wantSt: State{Phase: PhaseRolledBack, Image: newImg, NodeImage: newImg, AgentVersion: "a", Target: newImg, TargetVersion: "b", Since: &started,
				Reason: "the new agents did not connect within 5m0s: cluster agent 0/1 updated, 1 available; node agents 1/1 updated, 1 available; the connected cluster agent reports version a, want b"},
		},
		{
			name: "a roll found in flight is judged even when the server ships another image now", target: Target{Image: "reg/drover-agent:c", Version: "c"},
			o:    observed{now: t0, deploy: done(newImg), nodes: done(newImg), agentVersion: "b", annotations: inFlight("b")},
			want: actFinish, wantSt: State{Phase: PhaseUpToDate, Image: newImg, NodeImage: newImg, AgentVersion: "b", Target: newImg, TargetVersion: "b", Since: &started},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			asked := false
			act, st := decide(tc.target, DefaultTimeout, tc.o, func() bool { asked = true; return tc.slotFree })
			if act != tc.want {
				t.Errorf("action %v, want %v", act, tc.want)
			}
			if diff := cmp.Diff(tc.wantSt, st); diff != "" {
				t.Errorf("state (-want +got):\n%s", diff)
			}
			if asked != tc.asked {
				t.Errorf("asked for a slot: %v, want %v", asked, tc.asked)
			}
		})
	}
}

// TestFlightUnreadableStart: a roll whose start time cannot be read is
// judged at once (rolled back when not done), never left in flight.
func TestFlightUnreadableStart(t *testing.T) {
	o := observed{now: time.Now(), deploy: &workload{image: "x:b", progress: "0/1"},
		annotations: map[string]string{AnnotationTarget: "x:b", AnnotationStarted: "yesterday", AnnotationPrevious: "x:a"}}
	if act, _ := decide(Target{Image: "x:b"}, time.Minute, o, func() bool { return true }); act != actRollBack {
		t.Errorf("action %v, want %v", act, actRollBack)
	}
}
