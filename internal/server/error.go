package server

import (
	"net/http"

	"github.com/concord-health/concord/internal/httperr"
)

// StatusOf returns the HTTP status for err (see package httperr).
func StatusOf(err error) int { return httperr.Status(err) }

func writeError(w http.ResponseWriter, r *http.Request, err error) { httperr.Write(w, r, err) }

func writeJSON(w http.ResponseWriter, status int, v any) { httperr.JSON(w, status, v) }
