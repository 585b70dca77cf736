package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// decodeJSON reads a small JSON body into v, refusing unknown fields.
func (s *Server) decodeJSON(r *http.Request, v any) error {
	body, err := readJSONBody(r, 1<<20, nil)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return pulse.Invalid(pulse.FieldError{Field: te.Field, Message: "has the wrong type", Reason: te.Field + ".type"})
		}
		if msg := err.Error(); len(msg) > 20 && msg[:20] == "json: unknown field " {
			name, _ := strconv.Unquote(msg[20:])
			return pulse.Invalid(pulse.FieldError{Field: name, Message: "is not a known field", Reason: "field.unknown"})
		}
		return pulse.Errorf(pulse.EBADREQUEST, "the body is not valid JSON")
	}
	return nil
}

type createTenantRequest struct {
	Name               string `json:"name"`
	RateLimitPerMinute *int   `json:"rate_limit_per_minute"` // nil: the default
	RetentionDays      *int   `json:"retention_days"`
}

func orDefault(p *int, def int) int {
	if p == nil {
		return def
	}
	return *p
}

func (s *Server) adminCreateTenant(w http.ResponseWriter, r *http.Request) {
	var in createTenantRequest
	if err := s.decodeJSON(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	t, secret, err := pulse.CreateTenantWithKey(r.Context(), s.store, s.clock.Now(), in.Name,
		orDefault(in.RateLimitPerMinute, pulse.DefaultRateLimitPerMinute), orDefault(in.RetentionDays, pulse.DefaultRetentionDays))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.audit(r, t.ID, "tenant.create", "tenant/"+t.ID, nil, t)
	writeJSON(w, http.StatusCreated, map[string]any{"tenant": t, "api_key": secret})
}

func (s *Server) adminListTenants(w http.ResponseWriter, r *http.Request) {
	ts, err := s.store.ListTenants(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if ts == nil {
		ts = []*pulse.Tenant{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"tenants": ts})
}

// tenantParam loads the tenant named by the {id} path value.
func (s *Server) tenantParam(r *http.Request) (*pulse.Tenant, error) {
	id := r.PathValue("id")
	if !pulse.ValidID(id) {
		return nil, pulse.Errorf(pulse.ENOTFOUND, "tenant not found")
	}
	t, err := s.store.GetTenant(r.Context(), id)
	if pulse.IsNotFound(err) {
		return nil, pulse.Errorf(pulse.ENOTFOUND, "tenant not found")
	}
	return t, err
}

func (s *Server) adminGetTenant(w http.ResponseWriter, r *http.Request) {
	t, err := s.tenantParam(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (s *Server) adminPatchTenant(w http.ResponseWriter, r *http.Request) {
	t, err := s.tenantParam(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var p pulse.TenantPatch
	if err := s.decodeJSON(r, &p); err != nil {
		s.writeError(w, r, err)
		return
	}
	before := *t
	if err := p.Apply(t); err != nil { // validate before writing
		s.writeError(w, r, err)
		return
	}
	t, err = s.store.UpdateTenant(r.Context(), t.ID, p)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.audit(r, t.ID, "tenant.update", "tenant/"+t.ID, &before, t)
	s.changed(t.ID)
	writeJSON(w, http.StatusOK, t)
}

func (s *Server) changed(tenantID string) {
	s.keys.Forget(tenantID)
	if s.OnTenantChange != nil {
		s.OnTenantChange(tenantID)
	}
}

type createKeyRequest struct {
	Name      string        `json:"name"`
	Scopes    []pulse.Scope `json:"scopes"`
	ExpiresAt *string       `json:"expires_at"` // RFC 3339; parsed by expiry so a bad value is a 422 naming it
}

// expiry parses expires_at; nil when absent.
func (c createKeyRequest) expiry() (*time.Time, error) {
	if c.ExpiresAt == nil {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339Nano, *c.ExpiresAt)
	if err != nil {
		return nil, pulse.Invalid(pulse.FieldError{Field: "expires_at", Message: "must be an RFC 3339 time such as 2027-01-02T15:04:05Z", Reason: "expires_at.invalid"})
	}
	return &t, nil
}

func (s *Server) adminCreateKey(w http.ResponseWriter, r *http.Request) {
	t, err := s.tenantParam(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.createKeyFor(w, r, t)
}

func (s *Server) adminListKeys(w http.ResponseWriter, r *http.Request) {
	t, err := s.tenantParam(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.listKeysOf(w, r, t.ID)
}

func (s *Server) adminRevokeKey(w http.ResponseWriter, r *http.Request) {
	t, err := s.tenantParam(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.revokeKeyOf(w, r, t.ID, r.PathValue("key_id"))
}
