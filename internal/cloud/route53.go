package cloud

// Store kinds of the Route 53 resources privlink serves (public hosted
// zones, where providers publish private DNS verification records).
const (
	KindHostedZone    = "route53-hosted-zone"
	KindRoute53Change = "route53-change"
)

// Route 53 record types privlink stores.
const (
	RRTypeSOA   = "SOA"
	RRTypeNS    = "NS"
	RRTypeA     = "A"
	RRTypeTXT   = "TXT"
	RRTypeCNAME = "CNAME"
)

// HostedZone is a public hosted zone. Route 53 is global: Meta.Region is
// empty, and the zone belongs to Meta.OwnerID. The zone's record sets,
// its SOA and NS included, are stored with it so that a change batch is one
// atomic write.
type HostedZone struct {
	Meta
	// Name is the zone's apex, lower-case and fully qualified ("example.com.").
	Name            string      `json:"name"`
	CallerReference string      `json:"callerRef"`
	Comment         string      `json:"comment,omitempty"`
	NameServers     []string    `json:"nameServers"`
	Serial          uint32      `json:"serial"` // the SOA serial, bumped on every change
	RecordSets      []RecordSet `json:"rrsets"`
}

// RecordSet is a simple-routing resource record set: every record of one
// name and type.
type RecordSet struct {
	Name   string   `json:"name"` // lower-case, fully qualified
	Type   string   `json:"type"`
	TTL    int64    `json:"ttl"`
	Values []string `json:"values"` // Route 53's presentation form (TXT quoted)
}

// Route53Change is a submitted change (zone creation or deletion, or a
// change batch), as GetChange reports it.
type Route53Change struct {
	Meta
	ZoneID  string `json:"zone"`
	Comment string `json:"comment,omitempty"`
}
