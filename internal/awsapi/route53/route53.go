// Package route53 serves the subset of Amazon Route 53 (REST-XML, API
// version 2013-04-01) that providers need to publish private DNS
// verification records: public hosted zones and their A, TXT and CNAME
// record sets. It decodes requests, calls controlplane and encodes
// responses; it holds no business rules.
package route53

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/privlink/privlink/internal/awsapi"
	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/controlplane"
)

// Xmlns is Route 53's XML namespace.
const Xmlns = "https://route53.amazonaws.com/doc/2013-04-01/"

const apiPrefix = "/2013-04-01/"

// maxBody bounds a Route 53 request body (a change batch of 1,000 changes
// fits easily).
const maxBody = 1 << 20

// ZoneAPI is the control plane's hosted-zone surface.
type ZoneAPI interface {
	CreateHostedZone(ctx context.Context, c *controlplane.Call, in controlplane.CreateHostedZoneInput) (*cloud.HostedZone, *cloud.Route53Change, error)
	GetHostedZone(ctx context.Context, c *controlplane.Call, id string) (*cloud.HostedZone, error)
	ListHostedZones(ctx context.Context, c *controlplane.Call, marker string, maxItems int) ([]*cloud.HostedZone, string, error)
	DeleteHostedZone(ctx context.Context, c *controlplane.Call, id string) (*cloud.Route53Change, error)
	ChangeResourceRecordSets(ctx context.Context, c *controlplane.Call, zoneID, comment string, changes []controlplane.RecordChange) (*cloud.Route53Change, error)
	ListResourceRecordSets(ctx context.Context, c *controlplane.Call, zoneID, startName, startType string, maxItems int) (*controlplane.RecordSetPage, error)
	GetChange(ctx context.Context, c *controlplane.Call, id string) (*cloud.Route53Change, error)
}

// NewService returns the route53 service over cp.
func NewService(cp ZoneAPI) *awsapi.Service {
	h := &handler{cp: cp}
	return &awsapi.Service{Name: "route53", Protocol: awsapi.ProtocolQuery, Xmlns: Xmlns, Global: true, Raw: h.serve}
}

type handler struct{ cp ZoneAPI }

// response is a successful operation's status, headers and body.
type response struct {
	status int
	header http.Header
	body   any
}

func (h *handler) serve(ctx context.Context, r *awsapi.RawRequest) (int, http.Header, []byte, error) {
	if len(r.Body) > maxBody {
		return 0, nil, nil, invalidInput("The request body is larger than %d bytes.", maxBody)
	}
	op, id, ok := route(r.HTTP.Method, r.HTTP.URL.Path)
	if !ok {
		return 0, nil, nil, &cloud.Error{Code: "InvalidAction", Message: fmt.Sprintf("privlink's Route 53 does not serve %s %s; it serves public hosted zones, their record sets and GetChange.", r.HTTP.Method, r.HTTP.URL.Path), Status: 400}
	}
	c := &controlplane.Call{Caller: r.Caller, Region: r.Region, Action: "route53:" + op}
	q := r.HTTP.URL.Query()
	var res response
	var err error
	switch op {
	case "CreateHostedZone":
		res, err = h.createHostedZone(ctx, c, r.Body)
	case "GetHostedZone":
		res, err = h.getHostedZone(ctx, c, id)
	case "ListHostedZones":
		res, err = h.listHostedZones(ctx, c, q.Get("marker"), q.Get("maxitems"), q.Get("delegationsetid"), q.Get("hostedzonetype"))
	case "DeleteHostedZone":
		res, err = h.deleteHostedZone(ctx, c, id)
	case "ChangeResourceRecordSets":
		res, err = h.changeResourceRecordSets(ctx, c, id, r.Body)
	case "ListResourceRecordSets":
		res, err = h.listResourceRecordSets(ctx, c, id, q.Get("name"), q.Get("type"), q.Get("identifier"), q.Get("maxitems"))
	case "GetChange":
		res, err = h.getChange(ctx, c, id)
	}
	if err != nil {
		return 0, nil, nil, apiError(err)
	}
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	if err := xml.NewEncoder(&buf).Encode(res.body); err != nil {
		return 0, nil, nil, fmt.Errorf("route53: encode %s: %w", op, err)
	}
	return res.status, res.header, buf.Bytes(), nil
}

// route maps a method and path to an operation and its {Id}.
func route(method, path string) (op, id string, ok bool) {
	rest, found := strings.CutPrefix(path, apiPrefix)
	if !found {
		return "", "", false
	}
	parts := strings.Split(strings.TrimSuffix(rest, "/"), "/")
	switch {
	case len(parts) == 1 && parts[0] == "hostedzone":
		switch method {
		case http.MethodPost:
			return "CreateHostedZone", "", true
		case http.MethodGet:
			return "ListHostedZones", "", true
		}
	case len(parts) == 2 && parts[0] == "hostedzone" && parts[1] != "":
		switch method {
		case http.MethodGet:
			return "GetHostedZone", parts[1], true
		case http.MethodDelete:
			return "DeleteHostedZone", parts[1], true
		}
	case len(parts) == 3 && parts[0] == "hostedzone" && parts[1] != "" && parts[2] == "rrset":
		switch method {
		case http.MethodPost:
			return "ChangeResourceRecordSets", parts[1], true
		case http.MethodGet:
			return "ListResourceRecordSets", parts[1], true
		}
	case len(parts) == 2 && parts[0] == "change" && parts[1] != "" && method == http.MethodGet:
		return "GetChange", parts[1], true
	}
	return "", "", false
}

func invalidInput(format string, args ...any) *cloud.Error {
	return &cloud.Error{Code: "InvalidInput", Message: fmt.Sprintf(format, args...), Status: 400}
}

// apiError renders the control plane's authorization refusal as Route 53's
// AccessDenied; other errors pass through.
func apiError(err error) error {
	if e, ok := cloud.AsError(err); ok && e.Code == "UnauthorizedOperation" {
		return &cloud.Error{Code: "AccessDenied", Message: e.Message, Status: 403}
	}
	return err
}

func decodeBody(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return invalidInput("The request body is empty; it must be an XML document.")
	}
	if err := xml.Unmarshal(body, v); err != nil {
		return invalidInput("Could not parse the request XML: %v", err)
	}
	return nil
}

func parseMaxItems(v string) (int, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, invalidInput("1 validation error detected: Value '%s' at 'maxItems' failed to satisfy constraint: Member must be a positive number", v)
	}
	return n, nil
}

func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// escapeName renders a stored name as Route 53 does: a wildcard's "*" as \052.
func escapeName(n string) string { return strings.ReplaceAll(n, "*", `\052`) }

func changeInfo(ch *cloud.Route53Change) changeInfoXML {
	return changeInfoXML{ID: "/change/" + ch.ID, Status: "INSYNC", SubmittedAt: timestamp(ch.CreatedAt), Comment: ch.Comment}
}

func zoneXML(z *cloud.HostedZone) hostedZoneXML {
	out := hostedZoneXML{ID: "/hostedzone/" + z.ID, Name: escapeName(z.Name), CallerReference: z.CallerReference, ResourceRecordSetCount: len(z.RecordSets)}
	out.Config.Comment = z.Comment
	out.Config.PrivateZone = false
	return out
}

func (h *handler) createHostedZone(ctx context.Context, c *controlplane.Call, body []byte) (response, error) {
	var in createHostedZoneRequest
	if err := decodeBody(body, &in); err != nil {
		return response{}, err
	}
	req := controlplane.CreateHostedZoneInput{Name: in.Name, CallerReference: in.CallerReference, VPC: in.VPC != nil, DelegationSetID: in.DelegationSetID}
	if in.HostedZoneConfig != nil {
		req.Comment = in.HostedZoneConfig.Comment
		req.PrivateZone = in.HostedZoneConfig.PrivateZone != nil && *in.HostedZoneConfig.PrivateZone
	}
	z, ch, err := h.cp.CreateHostedZone(ctx, c, req)
	if err != nil {
		return response{}, err
	}
	out := &createHostedZoneResponse{Xmlns: Xmlns, HostedZone: zoneXML(z), ChangeInfo: changeInfo(ch)}
	out.DelegationSet.NameServers = z.NameServers
	header := http.Header{}
	header.Set("Location", "https://route53.amazonaws.com/2013-04-01/hostedzone/"+z.ID)
	return response{status: http.StatusCreated, header: header, body: out}, nil
}

func (h *handler) getHostedZone(ctx context.Context, c *controlplane.Call, id string) (response, error) {
	z, err := h.cp.GetHostedZone(ctx, c, id)
	if err != nil {
		return response{}, err
	}
	out := &getHostedZoneResponse{Xmlns: Xmlns, HostedZone: zoneXML(z)}
	out.DelegationSet.NameServers = z.NameServers
	return response{body: out}, nil
}

func (h *handler) listHostedZones(ctx context.Context, c *controlplane.Call, marker, maxItems, delegationSet, zoneType string) (response, error) {
	if delegationSet != "" {
		return response{}, &cloud.Error{Code: "NoSuchDelegationSet", Message: "A reusable delegation set with the specified ID does not exist: " + delegationSet, Status: 400}
	}
	if zoneType != "" && zoneType != "PrivateHostedZone" {
		return response{}, invalidInput("1 validation error detected: Value '%s' at 'hostedZoneType' failed to satisfy constraint: Member must satisfy enum value set: [PrivateHostedZone]", zoneType)
	}
	n, err := parseMaxItems(maxItems)
	if err != nil {
		return response{}, err
	}
	zones, next, err := h.cp.ListHostedZones(ctx, c, controlplane.TrimZoneID(marker), n)
	if err != nil {
		return response{}, err
	}
	if zoneType == "PrivateHostedZone" {
		zones, next = nil, "" // privlink has no private hosted zones in Route 53
	}
	if n == 0 {
		n = 100
	}
	out := &listHostedZonesResponse{Xmlns: Xmlns, HostedZones: []hostedZoneXML{}, Marker: marker, IsTruncated: next != "", NextMarker: next, MaxItems: strconv.Itoa(n)}
	for _, z := range zones {
		out.HostedZones = append(out.HostedZones, zoneXML(z))
	}
	return response{body: out}, nil
}

func (h *handler) deleteHostedZone(ctx context.Context, c *controlplane.Call, id string) (response, error) {
	ch, err := h.cp.DeleteHostedZone(ctx, c, id)
	if err != nil {
		return response{}, err
	}
	return response{body: &deleteHostedZoneResponse{Xmlns: Xmlns, ChangeInfo: changeInfo(ch)}}, nil
}

func (h *handler) changeResourceRecordSets(ctx context.Context, c *controlplane.Call, id string, body []byte) (response, error) {
	var in changeResourceRecordSetsRequest
	if err := decodeBody(body, &in); err != nil {
		return response{}, err
	}
	changes := make([]controlplane.RecordChange, 0, len(in.ChangeBatch.Changes))
	for _, ch := range in.ChangeBatch.Changes {
		rs := ch.ResourceRecordSet
		rc := controlplane.RecordChange{Action: ch.Action, Set: cloud.RecordSet{Name: rs.Name, Type: rs.Type}, Unsupported: rs.unsupported()}
		if rs.TTL != nil {
			rc.TTLSet, rc.Set.TTL = true, *rs.TTL
		}
		if rs.ResourceRecords != nil {
			for _, rr := range rs.ResourceRecords.Records {
				rc.Set.Values = append(rc.Set.Values, rr.Value)
			}
		}
		changes = append(changes, rc)
	}
	ch, err := h.cp.ChangeResourceRecordSets(ctx, c, id, in.ChangeBatch.Comment, changes)
	if err != nil {
		return response{}, err
	}
	return response{body: &changeResourceRecordSetsResponse{Xmlns: Xmlns, ChangeInfo: changeInfo(ch)}}, nil
}

func (h *handler) listResourceRecordSets(ctx context.Context, c *controlplane.Call, id, name, typ, identifier, maxItems string) (response, error) {
	if identifier != "" {
		return response{}, invalidInput("privlink's Route 53 supports simple routing only; StartRecordIdentifier is not supported.")
	}
	n, err := parseMaxItems(maxItems)
	if err != nil {
		return response{}, err
	}
	page, err := h.cp.ListResourceRecordSets(ctx, c, id, strings.ReplaceAll(name, `\052`, "*"), typ, n)
	if err != nil {
		return response{}, err
	}
	out := &listResourceRecordSetsResponse{Xmlns: Xmlns, ResourceRecordSets: []recordSetXML{}, IsTruncated: page.Truncated, MaxItems: strconv.Itoa(page.MaxItems)}
	if page.Truncated {
		out.NextRecordName, out.NextRecordType = escapeName(page.NextName), page.NextType
	}
	for _, rs := range page.Sets {
		ttl := rs.TTL
		x := recordSetXML{Name: escapeName(rs.Name), Type: rs.Type, TTL: &ttl}
		if len(rs.Values) > 0 {
			x.ResourceRecords = &resourceRecordsXML{}
			for _, v := range rs.Values {
				x.ResourceRecords.Records = append(x.ResourceRecords.Records, resourceRecordXML{Value: v})
			}
		}
		out.ResourceRecordSets = append(out.ResourceRecordSets, x)
	}
	return response{body: out}, nil
}

func (h *handler) getChange(ctx context.Context, c *controlplane.Call, id string) (response, error) {
	ch, err := h.cp.GetChange(ctx, c, id)
	if err != nil {
		return response{}, err
	}
	return response{body: &getChangeResponse{Xmlns: Xmlns, ChangeInfo: changeInfo(ch)}}, nil
}
