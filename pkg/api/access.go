package api

import "github.com/gorilla/mux"

// accessRoutes registers projects and bindings.
func (a *API) accessRoutes(r *mux.Router) {}
