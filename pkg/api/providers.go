package api

import "github.com/gorilla/mux"

// ProviderSource gives the API the configured auth providers.
type ProviderSource interface{}

// providerPublicRoutes registers the login routes of auth providers.
func (a *API) providerPublicRoutes(r *mux.Router) {}

// providerRoutes registers provider configuration.
func (a *API) providerRoutes(r *mux.Router) {}
