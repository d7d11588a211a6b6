// Package rollout owns the server's roll-out of its agent image to the
// clusters it manages: which clusters' agents run another image than the
// one the server ships (--agent-image, whose version --agent-version
// names), how many are rolled at once, when a roll is done and when it is
// rolled back.
//
// Each cluster's controller (package controller) calls Step once a pass,
// with its own client through the tunnel and the live cluster agent's
// session. A roll patches the agent container's image of the cluster
// agent's Deployment and the node agents' DaemonSet and records itself in
// annotations on the Deployment (the previous images, the target, when it
// began), so that it survives what it causes: the new cluster agent opens
// a new session, the controller restarts on it and carries on from the
// annotations; so does a restarted server or another replica. It is done
// when both workloads run the new image with every pod updated and
// available (an agent pod is ready only while its tunnel is open) and the
// connected cluster agent reports the shipped version (or, when the server
// does not know the version, connected after the roll began). After
// Timeout without that, the previous images are put back and the image is
// recorded as failed on the Deployment, with the reason (the new pods'
// waiting reasons: ErrImagePull, CrashLoopBackOff, or running but not
// connected); that image is not tried on that cluster again until an
// operator removes the annotation or the server ships another image.
// At most MaxInFlight clusters are in flight per server (per replica with
// server replicas); a roll found in flight always continues.
//
// The controller gives itself the rights it needs (downstream.RolloutRules:
// get and patch on the two workloads by name, in cattle-system only) with
// the RBAC rights it already holds, so that clusters whose agents predate
// this package are rolled too; the agents' own rights do not change.
//
// It must never write anything downstream but those two workloads' agent
// image, its own annotations and its own ClusterRole and RoleBinding, never
// start a roll while off (Enabled false: it then neither reads nor writes),
// nor start more than MaxInFlight at once on one server.
package rollout
