package httpapi

import (
	"net/http"

	"github.com/pulsestream/pulsestream/internal/people"
	"github.com/pulsestream/pulsestream/internal/pulse"
)

// Sign-in, sessions, the second factor, invitations and the first-run
// setup: thin JSON handlers over people.Auth (the console calls the same
// methods). Every handler that sets or uses the session cookie refuses a
// state-changing request from another origin.

func (s *Server) sessionRoutes() {
	s.handle("POST /api/v1/session", s.signIn)
	s.handle("GET /api/v1/session", s.requireSession(s.whoAmI))
	s.handle("DELETE /api/v1/session", s.requireSession(s.signOut))
	s.handle("POST /api/v1/session/revoke-all", s.requireSession(s.signOutEverywhere))
	s.handle("POST /api/v1/session/password", s.requireSession(s.changePassword))
	s.handle("POST /api/v1/session/totp", s.requireSession(s.beginTOTP))
	s.handle("POST /api/v1/session/totp/confirm", s.requireSession(s.confirmTOTP))
	s.handle("POST /api/v1/session/totp/disable", s.requireSession(s.disableTOTP))
	s.handle("POST /api/v1/invitations", s.require(pulse.ActManageMembers, s.createInvitation))
	s.handle("GET /api/v1/invitations", s.require(pulse.ActManageMembers, s.listInvitations))
	s.handle("DELETE /api/v1/invitations/{id}", s.require(pulse.ActManageMembers, s.revokeInvitation))
	s.handle("POST /api/v1/invitations/accept", s.acceptInvitation)
	s.handle("POST /api/v1/setup", s.setup)
}

// unauthenticated checks what the handlers that need no session share:
// sign-in is configured and the request is not a cross-origin form.
func (s *Server) unauthenticated(w http.ResponseWriter, r *http.Request) bool {
	if s.Auth == nil {
		s.writeError(w, r, errNoSignIn)
		return false
	}
	if err := s.sameOrigin(r); err != nil {
		s.writeError(w, r, err)
		return false
	}
	return true
}

func deviceCookie(r *http.Request) string {
	if c, err := r.Cookie(people.DeviceCookieName); err == nil {
		return c.Value
	}
	return ""
}

// signedIn sets the cookies of res and answers who is now signed in.
func (s *Server) signedIn(w http.ResponseWriter, r *http.Request, status int, res *people.SignInResult) {
	people.SetSignInCookies(w, res, s.clock.Now(), s.secure(r))
	me, err := s.Auth.WhoAmI(r.Context(), res.User, res.Session)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, status, me)
}

func (s *Server) signIn(w http.ResponseWriter, r *http.Request) {
	if !s.unauthenticated(w, r) {
		return
	}
	var body struct {
		Email    string `json:"email"`
		Password string `json:"password"`
		TOTPCode string `json:"totp_code"`
	}
	if err := s.decodeJSON(r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.Auth.SignIn(r.Context(), people.SignInRequest{
		Email: body.Email, Password: body.Password, TOTPCode: body.TOTPCode, Device: deviceCookie(r),
		IP: s.clientIP(r), UserAgent: r.UserAgent(), RequestID: requestID(r.Context()),
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.signedIn(w, r, http.StatusOK, res)
}

func (s *Server) whoAmI(w http.ResponseWriter, r *http.Request) {
	sc := sessionFrom(r.Context())
	me, err := s.Auth.WhoAmI(r.Context(), sc.user, sc.session)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, me)
}

func (s *Server) signOut(w http.ResponseWriter, r *http.Request) {
	if err := s.Auth.SignOut(r.Context(), sessionFrom(r.Context()).id); err != nil {
		s.writeError(w, r, err)
		return
	}
	http.SetCookie(w, people.ExpiredSessionCookie(s.secure(r)))
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) signOutEverywhere(w http.ResponseWriter, r *http.Request) {
	if err := s.Auth.SignOutEverywhere(r.Context(), s.actor(r), sessionFrom(r.Context()).user.ID); err != nil {
		s.writeError(w, r, err)
		return
	}
	http.SetCookie(w, people.ExpiredSessionCookie(s.secure(r)))
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) changePassword(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Current string `json:"current_password"`
		New     string `json:"new_password"`
	}
	if err := s.decodeJSON(r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	sc := sessionFrom(r.Context())
	if err := s.Auth.ChangePassword(r.Context(), s.actor(r), sc.user, body.Current, body.New, sc.id); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) beginTOTP(w http.ResponseWriter, r *http.Request) {
	e, err := s.Auth.BeginTOTP(r.Context(), sessionFrom(r.Context()).user)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, e)
}

func (s *Server) confirmTOTP(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Token string `json:"enrolment_token"`
		Code  string `json:"code"`
	}
	if err := s.decodeJSON(r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	codes, err := s.Auth.ConfirmTOTP(r.Context(), s.actor(r), sessionFrom(r.Context()).user, body.Token, body.Code)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{"recovery_codes": codes})
}

func (s *Server) disableTOTP(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Code string `json:"code"`
	}
	if err := s.decodeJSON(r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.Auth.DisableTOTP(r.Context(), s.actor(r), sessionFrom(r.Context()).user, body.Code); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) createInvitation(w http.ResponseWriter, r *http.Request) {
	if s.Auth == nil {
		s.writeError(w, r, errNoSignIn)
		return
	}
	var body struct {
		Email string     `json:"email"`
		Role  pulse.Role `json:"role"`
	}
	if err := s.decodeJSON(r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.Auth.Invite(r.Context(), s.actor(r), tenantFrom(r.Context()).ID, body.Email, body.Role, s.baseURL(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, map[string]any{
		"invitation": people.InvitationView(res.Invitation), "token": res.Token, "link": res.Link,
		"mailed": res.Mailed, "mail_error": res.MailError,
	})
}

func (s *Server) listInvitations(w http.ResponseWriter, r *http.Request) {
	if s.Auth == nil {
		s.writeError(w, r, errNoSignIn)
		return
	}
	invs, err := s.Auth.ListInvitations(r.Context(), s.actor(r), tenantFrom(r.Context()).ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"invitations": invs})
}

func (s *Server) revokeInvitation(w http.ResponseWriter, r *http.Request) {
	if s.Auth == nil {
		s.writeError(w, r, errNoSignIn)
		return
	}
	if err := s.Auth.RevokeInvitation(r.Context(), s.actor(r), tenantFrom(r.Context()).ID, r.PathValue("id")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) acceptInvitation(w http.ResponseWriter, r *http.Request) {
	if !s.unauthenticated(w, r) {
		return
	}
	var body struct {
		Token    string `json:"token"`
		Name     string `json:"name"`
		Password string `json:"password"`
	}
	if err := s.decodeJSON(r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.Auth.AcceptInvitation(r.Context(), people.AcceptRequest{
		Token: body.Token, Name: body.Name, Password: body.Password,
		IP: s.clientIP(r), UserAgent: r.UserAgent(), RequestID: requestID(r.Context()),
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if res.SessionID == "" { // an existing user: they sign in as usual
		writeJSON(w, http.StatusOK, map[string]any{"signed_in": false, "user": people.UserInfo{ID: res.User.ID, Email: res.User.Email, Name: res.User.Name}})
		return
	}
	s.signedIn(w, r, http.StatusOK, res)
}

func (s *Server) setup(w http.ResponseWriter, r *http.Request) {
	if !s.unauthenticated(w, r) {
		return
	}
	var body struct {
		Token    string `json:"token"`
		Email    string `json:"email"`
		Name     string `json:"name"`
		Password string `json:"password"`
	}
	if err := s.decodeJSON(r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.Auth.Setup(r.Context(), people.SetupRequest{
		Token: body.Token, Email: body.Email, Name: body.Name, Password: body.Password,
		IP: s.clientIP(r), UserAgent: r.UserAgent(), RequestID: requestID(r.Context()),
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.signedIn(w, r, http.StatusCreated, res)
}
