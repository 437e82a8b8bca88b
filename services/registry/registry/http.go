package registry

import (
	"encoding/json"
	"github.com/watershed-grid/watershed/rivers/landscape"
	"net/http"

	"github.com/go-chi/chi/v5"
)

// Routes returns the registry's read-only JSON API:
//
//	GET /v1/services          every live service with versions and instances
//	GET /v1/services/{name}   one service (404 when unknown)
//	GET /v1/types             every event type with producers and consumers
//	GET /v1/graph             nodes (service@version), edges, types
func Routes(r *landscape.Registry) chi.Router {
	m := chi.NewRouter()
	m.Get("/v1/services", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"services": nonNil(r.Services())})
	})
	m.Get("/v1/services/{name}", func(w http.ResponseWriter, req *http.Request) {
		s, ok := r.Service(chi.URLParam(req, "name"))
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no live service named " + chi.URLParam(req, "name")})
			return
		}
		writeJSON(w, http.StatusOK, s)
	})
	m.Get("/v1/types", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"types": r.Types()})
	})
	m.Get("/v1/graph", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, r.Graph())
	})
	return m
}

func nonNil(s []landscape.Service) []landscape.Service {
	if s == nil {
		return []landscape.Service{}
	}
	return s
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
