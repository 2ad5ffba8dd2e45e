package kubetest

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// AuditEvent is one entry of the API server's audit log (audit.k8s.io/v1
// Event, the fields a privilege check reads).
type AuditEvent struct {
	Stage      string `json:"stage"`
	Verb       string `json:"verb"`
	RequestURI string `json:"requestURI"`
	User       struct {
		Username string `json:"username"`
	} `json:"user"`
	ObjectRef *struct {
		Resource    string `json:"resource"`
		Namespace   string `json:"namespace"`
		Name        string `json:"name"`
		APIGroup    string `json:"apiGroup"`
		Subresource string `json:"subresource"`
	} `json:"objectRef"`
	ResponseStatus *struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
}

// Code is the response's status code (0 when the entry has none).
func (e AuditEvent) Code() int {
	if e.ResponseStatus == nil {
		return 0
	}
	return e.ResponseStatus.Code
}

// Resource is "resource.group" ("events" for the core group), with
// "/subresource" when there is one; "" for a request that names none
// (/version, /api).
func (e AuditEvent) Resource() string {
	if e.ObjectRef == nil {
		return ""
	}
	r := e.ObjectRef.Resource
	if e.ObjectRef.APIGroup != "" {
		r += "." + e.ObjectRef.APIGroup
	}
	if e.ObjectRef.Subresource != "" {
		r += "/" + e.ObjectRef.Subresource
	}
	return r
}

// parseAudit reads the audit log's JSON lines.
func parseAudit(b []byte) ([]AuditEvent, error) {
	var out []AuditEvent
	for i, line := range bytes.Split(b, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var e AuditEvent
		if err := json.Unmarshal(line, &e); err != nil {
			return out, fmt.Errorf("kubetest: audit log line %d: %w", i+1, err)
		}
		out = append(out, e)
	}
	return out, nil
}
