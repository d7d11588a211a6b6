package rollout

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-dev/drover/pkg/metrics"
)

// Annotations on the cluster agent's Deployment: the state of a roll in
// flight and of the last one rolled back. Keeping them downstream lets a
// roll survive the controller's restart on the new agent's session, a
// server restart and a move to another server replica.
const (
	annotationPrefix = "rollout.drover.dev/"
	// AnnotationTarget, AnnotationTargetVersion, AnnotationStarted,
	// AnnotationPrevious and AnnotationPreviousNode describe a roll in
	// flight: the image and version rolled, when it began and the images
	// the Deployment and the DaemonSet ran before.
	AnnotationTarget        = annotationPrefix + "target"
	AnnotationTargetVersion = annotationPrefix + "target-version"
	AnnotationStarted       = annotationPrefix + "started"
	AnnotationPrevious      = annotationPrefix + "previous"
	AnnotationPreviousNode  = annotationPrefix + "previous-node"
	// AnnotationFailed names the image last rolled back, with why and
	// when: that image is not rolled to this cluster again until an
	// operator removes AnnotationFailed (kubectl annotate ... failed-).
	AnnotationFailed       = annotationPrefix + "failed"
	AnnotationFailedReason = annotationPrefix + "failed-reason"
	AnnotationFailedAt     = annotationPrefix + "failed-at"
)

// Target is what the server ships.
type Target struct {
	// Image is the agent image (the server's --agent-image).
	Image string
	// Version is what that image's agent reports (its build version);
	// empty when the server does not know it: a roll is then judged by
	// the image, the pods' readiness and a new cluster agent session.
	Version string
}

// Options configure a Rollout.
type Options struct {
	Target Target
	// Enabled turns roll-outs on; off, Step only reports PhaseOff and
	// never reads or writes downstream.
	Enabled bool
	// MaxInFlight is how many clusters this server rolls at once
	// (default 1).
	MaxInFlight int
	// Timeout is how long the new agents have to be running, available and
	// connected before the roll is rolled back (default 5m).
	Timeout time.Duration
	// Recheck is how often a cluster with nothing in flight is looked at
	// again while its cluster agent's session stays the same (default
	// 30s).
	Recheck time.Duration
	// Metrics receives the counts; nil: a private registry.
	Metrics *metrics.Server
	Logger  *slog.Logger
	Now     func() time.Time
}

// Defaults.
const (
	DefaultMaxInFlight = 1
	DefaultTimeout     = 5 * time.Minute
	DefaultRecheck     = 30 * time.Second
)

// Rollout rolls the agent image out, one cluster's controller pass at a
// time (Step), holding at most MaxInFlight clusters in flight.
type Rollout struct {
	opts Options
	mu   sync.Mutex
	// slots are the clusters in flight and until when their slot is held
	// without a Step (a controller that stopped for good frees it then).
	slots map[string]time.Time
	// last is each cluster's last look, to skip reads while idle.
	last map[string]look
}

type look struct {
	at          time.Time
	connectedAt time.Time
	state       State
	// granted: the roll-out's rights were written on this session.
	granted bool
}

// New returns a Rollout.
func New(opts Options) *Rollout {
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = DefaultMaxInFlight
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Recheck <= 0 {
		opts.Recheck = DefaultRecheck
	}
	if opts.Metrics == nil {
		opts.Metrics = metrics.NewServer()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Rollout{opts: opts, slots: map[string]time.Time{}, last: map[string]look{}}
}

// Agent is the cluster's live cluster-agent session, as the controller
// knows it.
type Agent struct {
	ClusterID   string
	Version     string
	ConnectedAt time.Time
}

// Step looks at the cluster's agent workloads through cs (the controller's
// client) and starts, finishes or rolls back a roll. It returns the state
// to show in the cluster's status.
func (r *Rollout) Step(ctx context.Context, cs kubernetes.Interface, a Agent) State {
	now := r.opts.Now()
	if !r.opts.Enabled {
		return State{Phase: PhaseOff, AgentVersion: a.Version, Target: r.opts.Target.Image,
			TargetVersion: r.opts.Target.Version, Reason: "roll-out is off (--agent-rollout=false)"}
	}
	log := r.opts.Logger.With("cluster", a.ClusterID)
	r.mu.Lock()
	prev, seen := r.last[a.ClusterID]
	r.mu.Unlock()
	same := seen && prev.connectedAt.Equal(a.ConnectedAt)
	// Nothing in flight or waiting: look again every Recheck only (an
	// error too, so that a cluster where the roll-out cannot work is not
	// asked, nor logged, every pass).
	idle := prev.state.Phase != PhaseRolling && prev.state.Phase != PhaseWaiting
	if same && idle && now.Sub(prev.at) < r.opts.Recheck {
		return prev.state
	}
	// Once per session (a new controller): make sure the controller holds
	// the roll-out's rights before it reads.
	granted := same && prev.granted
	fresh := !granted
	if fresh {
		if err := ensureRights(ctx, cs); err != nil {
			return r.remember(a, now, errState(r.opts.Target, a, "grant the roll-out's rights", err), false)
		}
		granted = true
	}
	o, err := observe(ctx, cs, now)
	// Rights written a moment ago reach the apiserver's authorizer a
	// moment later (its RBAC cache): a Forbidden then is that delay, not
	// a refusal, and would otherwise park the roll-out for a Recheck.
	for wait := 0; fresh && apierrors.IsForbidden(err) && wait < grantSettleTries; wait++ {
		if sleep(ctx, grantSettleEvery) != nil {
			break
		}
		o, err = observe(ctx, cs, now)
	}
	if err != nil {
		return r.remember(a, now, errState(r.opts.Target, a, "read the agent workloads", err), granted)
	}
	o.agentVersion, o.connectedAt = a.Version, a.ConnectedAt
	_, inFlight := flightOf(o.annotations)
	if inFlight {
		r.hold(a.ClusterID, now)
	}
	act, st := decide(r.opts.Target, r.opts.Timeout, o, func() bool { return r.take(a.ClusterID, now) })
	m := r.opts.Metrics
	switch act {
	case actStart:
		if err := start(ctx, cs, r.opts.Target, o); err != nil {
			r.release(a.ClusterID)
			return r.remember(a, now, errState(r.opts.Target, a, "patch the agent workloads", err), granted)
		}
		m.AgentRollouts.WithLabelValues("started").Inc()
		log.Info("agent roll-out started", "from", st.Image, "from_nodes", st.NodeImage, "to", st.Target,
			"to_version", st.TargetVersion, "agent_version", a.Version)
	case actFinish:
		if err := finish(ctx, cs); err != nil {
			return r.remember(a, now, errState(r.opts.Target, a, "record the finished roll-out", err), granted)
		}
		r.release(a.ClusterID)
		m.AgentRollouts.WithLabelValues("succeeded").Inc()
		log.Info("agent roll-out done", "image", st.Target, "agent_version", a.Version,
			"took", now.Sub(*st.Since).Round(time.Millisecond))
	case actRollBack:
		f, _ := flightOf(o.annotations)
		st.Reason = shorten(st.Reason + podProblems(ctx, cs, f.target))
		if err := rollBack(ctx, cs, f, o, st.Reason, now); err != nil {
			return r.remember(a, now, errState(r.opts.Target, a, "roll back the agent workloads", err), granted)
		}
		r.release(a.ClusterID)
		st.Image, st.NodeImage = f.previous, f.previousNode
		m.AgentRollouts.WithLabelValues("rolled_back").Inc()
		log.Warn("agent roll-out rolled back", "image", f.target, "back_to", f.previous,
			"back_to_nodes", f.previousNode, "reason", st.Reason)
	}
	if st.Phase != PhaseRolling {
		r.release(a.ClusterID)
	}
	return r.remember(a, now, st, granted)
}

// Forget drops what the Rollout keeps of a cluster whose controller
// stopped; a roll in flight keeps its slot until Timeout passes without a
// Step, since the next controller (on the new agent's session) continues it.
func (r *Rollout) Forget(clusterID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.last, clusterID)
}

// remember keeps the look and exports whether the cluster's agents are
// outdated.
func (r *Rollout) remember(a Agent, now time.Time, st State, granted bool) State {
	outdated := 0.0
	if st.Phase != PhaseUpToDate && st.Phase != PhaseUnmanaged {
		outdated = 1
	}
	r.opts.Metrics.AgentOutdated.WithLabelValues(a.ClusterID).Set(outdated)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.last[a.ClusterID] = look{at: now, connectedAt: a.ConnectedAt, state: st, granted: granted}
	return st
}

// take holds a slot for clusterID if one is free (or it holds one).
func (r *Rollout) take(clusterID string, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.expire(now)
	if _, ok := r.slots[clusterID]; ok || len(r.slots) < r.opts.MaxInFlight {
		r.slots[clusterID] = now.Add(r.holdFor())
		r.opts.Metrics.AgentRolloutsInFlight.Set(float64(len(r.slots)))
		return true
	}
	return false
}

// hold keeps clusterID's slot, even beyond MaxInFlight: a roll in flight
// (found after a restart) must be finished or rolled back.
func (r *Rollout) hold(clusterID string, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.slots[clusterID] = now.Add(r.holdFor())
	r.opts.Metrics.AgentRolloutsInFlight.Set(float64(len(r.slots)))
}

func (r *Rollout) release(clusterID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.slots, clusterID)
	r.opts.Metrics.AgentRolloutsInFlight.Set(float64(len(r.slots)))
}

func (r *Rollout) holdFor() time.Duration { return r.opts.Timeout + time.Minute }

func (r *Rollout) expire(now time.Time) {
	for id, until := range r.slots {
		if now.After(until) {
			delete(r.slots, id)
		}
	}
}

func errState(t Target, a Agent, what string, err error) State {
	return State{Phase: PhaseError, Target: t.Image, TargetVersion: t.Version, AgentVersion: a.Version,
		Reason: shorten(what + ": " + err.Error())}
}

// shorten keeps a reason readable in the status.
func shorten(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 600 {
		s = s[:600] + "…"
	}
	return s
}

// How long a fresh grant may take to hold: grantSettleTries reads,
// grantSettleEvery apart.
const (
	grantSettleTries = 20
	grantSettleEvery = 100 * time.Millisecond
)

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
