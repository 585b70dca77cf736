package httpapi

import (
	"net/http"

	"github.com/pulsestream/pulsestream/internal/people"
	"github.com/pulsestream/pulsestream/internal/pulse"
)

// The operator's people routes (/admin/v1/users, /admin/v1/tenants/{id}/
// members): thin handlers over people.Service, which checks, changes and
// audits. Responses carry people.UserView and people.MemberView, never a
// password hash or a TOTP secret.

func (s *Server) peopleRoutes() {
	s.handle("POST /admin/v1/users", s.requireAdmin(s.adminCreateUser))
	s.handle("GET /admin/v1/users", s.requireAdmin(s.adminListUsers))
	s.handle("PATCH /admin/v1/users/{id}", s.requireAdmin(s.adminPatchUser))
	s.handle("GET /admin/v1/tenants/{id}/members", s.requireAdmin(s.adminListMembers))
	s.handle("PUT /admin/v1/tenants/{id}/members/{user_id}", s.requireAdmin(s.adminPutMember))
	s.handle("DELETE /admin/v1/tenants/{id}/members/{user_id}", s.requireAdmin(s.adminDeleteMember))
}

// operator is the admin token's actor, with this request's source.
func (s *Server) operator(r *http.Request) people.Actor {
	a := people.OperatorActor(pulse.ActorAdmin)
	a.SourceIP, a.RequestID = s.clientIP(r), requestID(r.Context())
	return a
}

func (s *Server) adminCreateUser(w http.ResponseWriter, r *http.Request) {
	var in people.NewUser
	if err := s.decodeJSON(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	u, err := s.people.CreateUser(r.Context(), s.operator(r), in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, people.View(u))
}

func (s *Server) adminListUsers(w http.ResponseWriter, r *http.Request) {
	users, err := s.people.ListUsers(r.Context(), s.operator(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]people.UserView, len(users))
	for i, u := range users {
		out[i] = people.View(u)
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": out})
}

func (s *Server) adminPatchUser(w http.ResponseWriter, r *http.Request) {
	var p people.UserPatch
	if err := s.decodeJSON(r, &p); err != nil {
		s.writeError(w, r, err)
		return
	}
	u, err := s.people.UpdateUser(r.Context(), s.operator(r), r.PathValue("id"), p)
	if pulse.IsNotFound(err) {
		err = pulse.Errorf(pulse.ENOTFOUND, "user not found")
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, people.View(u))
}

func (s *Server) adminListMembers(w http.ResponseWriter, r *http.Request) {
	ms, err := s.people.Members(r.Context(), s.operator(r), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"members": ms})
}

type putMemberRequest struct {
	Role pulse.Role `json:"role"`
}

// adminPutMember adds the user to the tenant (201) or changes their role
// (200).
func (s *Server) adminPutMember(w http.ResponseWriter, r *http.Request) {
	var in putMemberRequest
	if err := s.decodeJSON(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	m, created, err := s.people.SetMember(r.Context(), s.operator(r), r.PathValue("id"), r.PathValue("user_id"), in.Role)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, m)
}

func (s *Server) adminDeleteMember(w http.ResponseWriter, r *http.Request) {
	if err := s.people.RemoveMember(r.Context(), s.operator(r), r.PathValue("id"), r.PathValue("user_id")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// The tenant's members routes (/api/v1/members): anyone who may read the
// tenant sees who is in it (ActRead: viewers too, so a person knows whom
// to ask); changing a role and removing need ActManageMembers, and the
// owner role ActManageOwners, which people.Service checks with the
// last-owner rule and audits. A person may not change their own role
// (403); members join by invitation, so PUT never adds one (404).

func (s *Server) listMembers(w http.ResponseWriter, r *http.Request) {
	ms, err := s.people.Members(r.Context(), s.actor(r), tenantFrom(r.Context()).ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"members": ms})
}

func (s *Server) putMember(w http.ResponseWriter, r *http.Request) {
	var in putMemberRequest
	if err := s.decodeJSON(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	m, err := s.people.ChangeRole(r.Context(), s.actor(r), tenantFrom(r.Context()).ID, r.PathValue("user_id"), in.Role)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, m)
}

func (s *Server) deleteMember(w http.ResponseWriter, r *http.Request) {
	if err := s.people.RemoveMember(r.Context(), s.actor(r), tenantFrom(r.Context()).ID, r.PathValue("user_id")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
