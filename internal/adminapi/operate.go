package adminapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/internal/httperr"
)

// Engine is what the admin API needs of the interface engine: running a
// stored message again, and channel states.
type Engine interface {
	Reprocess(ctx context.Context, id int64, raw []byte, by concord.AuditRecord) (*concord.Message, string, error)
	State(ctx context.Context, channel string) string
	// ChannelNames lists the channels the node runs now, default first.
	ChannelNames() []string
	SetState(ctx context.Context, channel, state string, by concord.AuditRecord) error
}

// maxEditedMessage caps an edited message sent for reprocessing.
const maxEditedMessage = 16 << 20

// registerOperations adds the operator actions. Each write appends its
// audit record in the same transaction as the change, so the routes
// declare no audit of their own (denials are still audited).
func (a *api) registerOperations(r Router) {
	manage := concord.Access{Action: concord.Action{Permission: concord.PermMessagesManage}}
	r.Handle("POST /api/messages/{id}/reprocess", manage, http.HandlerFunc(a.reprocess))
	r.Handle("POST /api/messages/{id}/discard", manage, http.HandlerFunc(a.discard))
	r.Handle("POST /api/deliveries/{id}/retry", manage, http.HandlerFunc(a.retry))
	channels := concord.Access{Action: concord.Action{Permission: concord.PermChannelsManage}}
	for _, st := range []string{concord.ChannelStarted, concord.ChannelPaused, concord.ChannelStopped} {
		verb := map[string]string{concord.ChannelStarted: "start", concord.ChannelPaused: "pause", concord.ChannelStopped: "stop"}[st]
		r.Handle("POST /api/channels/{name}/"+verb, channels, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			a.setState(w, r, st)
		}))
	}
}

// setState starts, pauses or stops a channel.
func (a *api) setState(w http.ResponseWriter, r *http.Request, state string) {
	if a.engine == nil {
		noEngine(w, r)
		return
	}
	name := r.PathValue("name")
	err := a.engine.SetState(r.Context(), name, state, concord.AuditTemplateFrom(r.Context()))
	answer(w, r, map[string]any{"name": name, "state": state}, err)
}

func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		return 0, concord.Errorf(concord.EINVALID, "id must be a positive number")
	}
	return id, nil
}

// answer writes the result of an operation, or its error through the one
// error table; an error without a Concord code is a store failure.
func answer(w http.ResponseWriter, r *http.Request, v any, err error) {
	switch concord.ErrorCode(err) {
	case "":
		writeJSON(w, http.StatusOK, v)
	case concord.EINTERNAL:
		storeFailed(w, r, err)
	default:
		httperr.Write(w, r, err)
	}
}

// noEngine answers an operation that needs the interface engine on a
// server that runs none.
func noEngine(w http.ResponseWriter, r *http.Request) {
	httperr.Write(w, r, concord.Errorf(concord.EUNSUPPORTED, "this node runs no interface engine"))
}

// reprocess runs a message through its channel again; a JSON body
// {"raw": "MSH|…"} replaces its text first (edit and resend).
func (a *api) reprocess(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		httperr.Write(w, r, err)
		return
	}
	if a.engine == nil {
		noEngine(w, r)
		return
	}
	var raw []byte
	body, err := io.ReadAll(io.LimitReader(r.Body, maxEditedMessage+1))
	if err != nil {
		httperr.Write(w, r, concord.Errorf(concord.EINVALID, "body: %v", err))
		return
	}
	if len(body) > maxEditedMessage {
		httperr.Write(w, r, concord.Errorf(concord.ETOOLARGE, "body: at most %d bytes", maxEditedMessage))
		return
	}
	if len(body) > 0 {
		var req struct {
			Raw *string `json:"raw"`
		}
		if err := json.Unmarshal(body, &req); err != nil {
			httperr.Write(w, r, concord.Errorf(concord.EINVALID, "body: want {\"raw\": \"MSH|…\"}: %v", err))
			return
		}
		if req.Raw != nil {
			raw = []byte(*req.Raw)
		}
	}
	by := concord.AuditTemplateFrom(r.Context())
	m, code, err := a.engine.Reprocess(r.Context(), id, raw, by)
	if err != nil {
		answer(w, r, nil, err)
		return
	}
	answer(w, r, map[string]any{"message_id": m.ID, "status": m.Status, "ack_code": code, "reprocessed_from": id}, nil)
}

// discard gives up a message's queued deliveries.
func (a *api) discard(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		httperr.Write(w, r, err)
		return
	}
	m, err := a.store.Message(r.Context(), id)
	if err != nil {
		answer(w, r, nil, err)
		return
	}
	rec := concord.AuditTemplateFrom(r.Context())
	rec.Time, rec.Action, rec.Object, rec.Patient = time.Now(), concord.AuditUpdate, fmt.Sprintf("message/%d", id), m.PatientID
	n := 0
	err = a.store.Update(r.Context(), func(tx concord.Tx) error {
		var err error
		if n, err = tx.DiscardDeliveries(r.Context(), id, "discarded by "+rec.Actor); err != nil {
			return err
		}
		r2 := rec
		r2.Detail = fmt.Sprintf("discarded %d queued deliveries", n)
		return tx.AppendAudit(r.Context(), &r2)
	})
	answer(w, r, map[string]any{"message_id": id, "discarded": n}, err)
}

// retry puts a delivery back at the head of its queue, to be tried now.
func (a *api) retry(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		httperr.Write(w, r, err)
		return
	}
	rec := concord.AuditTemplateFrom(r.Context())
	rec.Time, rec.Action, rec.Object = time.Now(), concord.AuditUpdate, fmt.Sprintf("delivery/%d", id)
	rec.Detail = "retry now"
	err = a.store.Update(r.Context(), func(tx concord.Tx) error {
		if err := tx.RequeueDelivery(r.Context(), id, rec.Time, "retry requested by "+rec.Actor); err != nil {
			return err
		}
		r2 := rec
		return tx.AppendAudit(r.Context(), &r2)
	})
	answer(w, r, map[string]any{"delivery_id": id, "status": concord.DeliveryQueued}, err)
}
