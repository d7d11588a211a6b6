package api

import (
	"context"
	"encoding/json"

	"github.com/drover-dev/drover/pkg/access"
)

// maxShownWarnings is how many warning events a cluster's view shows.
const maxShownWarnings = 10

// visibleStatus is a cluster's stored status (gathered by the cluster's
// controller, which reads everything) as the caller may see it: the warning
// events of the namespaces the caller reads there (access.Checker
// ReadableNamespaces), newest first, at most maxShownWarnings. When that
// cannot be decided, or the status cannot be read, no event is shown.
func (a *API) visibleStatus(ctx context.Context, clusterID string, raw json.RawMessage) json.RawMessage {
	var st map[string]json.RawMessage
	if err := json.Unmarshal(raw, &st); err != nil {
		a.opts.Logger.Warn("decode cluster status", "cluster", clusterID, "err", err)
		return nil
	}
	var warnings []json.RawMessage
	if w, ok := st["warnings"]; ok {
		if err := json.Unmarshal(w, &warnings); err != nil {
			a.opts.Logger.Warn("decode cluster status warnings", "cluster", clusterID, "err", err)
		}
	}
	readable, err := a.opts.Reach.ReadableNamespaces(ctx, access.CallerOf(identity(ctx)), clusterID)
	if err != nil {
		a.opts.Logger.Warn("namespaces the caller reads: showing no events", "cluster", clusterID, "err", err)
		readable = access.Namespaces{}
	}
	shown := []json.RawMessage{}
	for _, w := range warnings {
		var e struct {
			Namespace string `json:"namespace"`
		}
		if json.Unmarshal(w, &e) == nil && readable.Has(e.Namespace) && len(shown) < maxShownWarnings {
			shown = append(shown, w)
		}
	}
	st["warnings"], _ = json.Marshal(shown)
	out, err := json.Marshal(st)
	if err != nil {
		a.opts.Logger.Warn("encode cluster status", "cluster", clusterID, "err", err)
		return nil
	}
	return out
}
