package subscription

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/internal/fhirapi"
	"github.com/concord-health/concord/internal/httperr"
)

// GetBindingTokenDefinition is the R5 Backport IG's OperationDefinition of
// $get-ws-binding-token.
const GetBindingTokenDefinition = "http://hl7.org/fhir/uv/subscriptions-backport/OperationDefinition/backport-subscription-get-ws-binding-token"

// TypeOperations are the Subscription operations for the server's
// CapabilityStatement.
var TypeOperations = map[string][]fhirapi.Operation{
	"Subscription": {{Name: "get-ws-binding-token", Definition: GetBindingTokenDefinition}},
}

// registerBindingToken adds $get-ws-binding-token, on one Subscription
// or (type level) on those named by id parameters.
func (m *Manager) registerBindingToken(r Router) {
	access := concord.Access{Action: concord.Action{ResourceType: "Subscription", Ops: concord.OpRead}, Audit: concord.AuditRead}
	for _, method := range []string{"GET ", "POST "} {
		r.Handle(method+"/fhir/Subscription/{id}/$get-ws-binding-token", access, http.HandlerFunc(m.serveBindingToken))
		r.Handle(method+"/fhir/Subscription/$get-ws-binding-token", access, http.HandlerFunc(m.serveBindingToken))
	}
}

// serveBindingToken answers a Parameters resource with a one-time token
// (valid BindingTokenTTL) that binds a connection to TokenWebsocketPath
// to the named subscriptions, each checked now as "bind <id>" would be
// (Manager.bindable): the client sends "bind-with-token <token>" as its
// first message, without an Authorization header, which browsers cannot
// send on a websocket.
func (m *Manager) serveBindingToken(w http.ResponseWriter, r *http.Request) {
	ids, err := bindingTokenIDs(r)
	if err != nil {
		httperr.Write(w, r, err)
		return
	}
	concord.NoteAudit(r.Context(), "Subscription/"+strings.Join(ids, ",Subscription/"), "")
	p := concord.PrincipalFrom(r.Context())
	for _, id := range ids {
		if _, err := m.bindable(r.Context(), p, id); err != nil {
			httperr.Write(w, r, concord.WrapError(concord.ErrorCode(err), err, "Subscription/%s: %s", id, concord.ErrorMessage(err)))
			return
		}
	}
	tok, err := concord.NewBindingToken()
	if err != nil {
		httperr.Write(w, r, err)
		return
	}
	b := concord.BindingToken{Hash: concord.HashBindingToken(tok), Actor: p.Actor, Subscriptions: ids,
		Expires: m.opt.Now().Add(m.opt.BindingTokenTTL)}
	if err := m.opt.Store.Update(r.Context(), func(tx concord.Tx) error {
		c := b // Update may run this more than once
		return tx.CreateBindingToken(r.Context(), &c)
	}); err != nil {
		httperr.Write(w, r, err)
		return
	}
	params := []map[string]string{
		{"name": "token", "valueString": tok},
		{"name": "expiration", "valueDateTime": b.Expires.UTC().Format("2006-01-02T15:04:05.000Z07:00")},
	}
	for _, id := range ids {
		params = append(params, map[string]string{"name": "subscription", "valueString": "Subscription/" + id})
	}
	params = append(params, map[string]string{"name": "websocket-url", "valueUrl": fhirapi.WebsocketURL(r, TokenWebsocketPath)})
	body, err := json.Marshal(map[string]any{"resourceType": "Parameters", "parameter": params})
	if err != nil {
		httperr.Write(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, body)
}

// bindingTokenIDs returns the Subscription ids a request names: the
// path's, or (type level) the id parameters (repeated, or
// comma-separated), at least one and at most maxBound, without repeats.
func bindingTokenIDs(r *http.Request) ([]string, error) {
	if id := r.PathValue("id"); id != "" {
		if !concord.IsFHIRID(id) {
			return nil, concord.Errorf(concord.EINVALID, "%q is not a FHIR id", truncate(id, 64))
		}
		return []string{id}, nil
	}
	vals, err := fhirapi.OperationParams(r)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, v := range vals["id"] {
		for id := range strings.SplitSeq(v, ",") {
			id = strings.TrimPrefix(strings.TrimSpace(id), "Subscription/")
			if !concord.IsFHIRID(id) {
				return nil, concord.Errorf(concord.EINVALID, "id %q is not a Subscription id", truncate(id, 64))
			}
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
			if len(ids) > maxBound {
				return nil, concord.Errorf(concord.EINVALID, "a binding token binds at most %d subscriptions", maxBound)
			}
		}
	}
	if len(ids) == 0 {
		return nil, concord.Errorf(concord.EINVALID,
			"name the subscriptions to bind with id parameters (Subscription/$get-ws-binding-token?id=a&id=b), or use Subscription/[id]/$get-ws-binding-token")
	}
	return ids, nil
}
