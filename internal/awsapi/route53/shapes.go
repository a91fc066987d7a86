package route53

import "encoding/xml"

// Request and response shapes of the Route 53 model (2013-04-01), named
// and nested as botocore's service-2.json has them.

type anyXML struct {
	Inner []byte `xml:",innerxml"`
}

type createHostedZoneRequest struct {
	XMLName          xml.Name `xml:"CreateHostedZoneRequest"`
	Name             string   `xml:"Name"`
	CallerReference  string   `xml:"CallerReference"`
	VPC              *anyXML  `xml:"VPC"`
	DelegationSetID  string   `xml:"DelegationSetId"`
	HostedZoneConfig *struct {
		Comment     string `xml:"Comment"`
		PrivateZone *bool  `xml:"PrivateZone"`
	} `xml:"HostedZoneConfig"`
}

type changeResourceRecordSetsRequest struct {
	XMLName     xml.Name `xml:"ChangeResourceRecordSetsRequest"`
	ChangeBatch struct {
		Comment string `xml:"Comment"`
		Changes []struct {
			Action            string       `xml:"Action"`
			ResourceRecordSet recordSetXML `xml:"ResourceRecordSet"`
		} `xml:"Changes>Change"`
	} `xml:"ChangeBatch"`
}

type resourceRecordXML struct {
	Value string `xml:"Value"`
}

type resourceRecordsXML struct {
	Records []resourceRecordXML `xml:"ResourceRecord"`
}

// recordSetXML is ResourceRecordSet; the routing policies privlink does
// not model are decoded only to be refused.
type recordSetXML struct {
	Name                    string              `xml:"Name"`
	Type                    string              `xml:"Type"`
	SetIdentifier           string              `xml:"SetIdentifier,omitempty"`
	Weight                  *int64              `xml:"Weight,omitempty"`
	Region                  string              `xml:"Region,omitempty"`
	GeoLocation             *anyXML             `xml:"GeoLocation,omitempty"`
	Failover                string              `xml:"Failover,omitempty"`
	MultiValueAnswer        *bool               `xml:"MultiValueAnswer,omitempty"`
	TTL                     *int64              `xml:"TTL,omitempty"`
	ResourceRecords         *resourceRecordsXML `xml:"ResourceRecords,omitempty"`
	AliasTarget             *anyXML             `xml:"AliasTarget,omitempty"`
	HealthCheckID           string              `xml:"HealthCheckId,omitempty"`
	TrafficPolicyInstanceID string              `xml:"TrafficPolicyInstanceId,omitempty"`
	CidrRoutingConfig       *anyXML             `xml:"CidrRoutingConfig,omitempty"`
	GeoProximityLocation    *anyXML             `xml:"GeoProximityLocation,omitempty"`
}

// unsupported names the first routing feature of rs privlink does not model.
func (rs *recordSetXML) unsupported() string {
	switch {
	case rs.AliasTarget != nil:
		return "AliasTarget"
	case rs.SetIdentifier != "":
		return "SetIdentifier"
	case rs.Weight != nil:
		return "Weight"
	case rs.Region != "":
		return "Region"
	case rs.GeoLocation != nil:
		return "GeoLocation"
	case rs.Failover != "":
		return "Failover"
	case rs.MultiValueAnswer != nil:
		return "MultiValueAnswer"
	case rs.HealthCheckID != "":
		return "HealthCheckId"
	case rs.TrafficPolicyInstanceID != "":
		return "TrafficPolicyInstanceId"
	case rs.CidrRoutingConfig != nil:
		return "CidrRoutingConfig"
	case rs.GeoProximityLocation != nil:
		return "GeoProximityLocation"
	}
	return ""
}

type changeInfoXML struct {
	ID          string `xml:"Id"`
	Status      string `xml:"Status"`
	SubmittedAt string `xml:"SubmittedAt"`
	Comment     string `xml:"Comment,omitempty"`
}

type hostedZoneXML struct {
	ID              string `xml:"Id"`
	Name            string `xml:"Name"`
	CallerReference string `xml:"CallerReference"`
	Config          struct {
		Comment     string `xml:"Comment,omitempty"`
		PrivateZone bool   `xml:"PrivateZone"`
	} `xml:"Config"`
	ResourceRecordSetCount int `xml:"ResourceRecordSetCount"`
}

type delegationSetXML struct {
	NameServers []string `xml:"NameServers>NameServer"`
}

type createHostedZoneResponse struct {
	XMLName       xml.Name         `xml:"CreateHostedZoneResponse"`
	Xmlns         string           `xml:"xmlns,attr"`
	HostedZone    hostedZoneXML    `xml:"HostedZone"`
	ChangeInfo    changeInfoXML    `xml:"ChangeInfo"`
	DelegationSet delegationSetXML `xml:"DelegationSet"`
}

type getHostedZoneResponse struct {
	XMLName       xml.Name         `xml:"GetHostedZoneResponse"`
	Xmlns         string           `xml:"xmlns,attr"`
	HostedZone    hostedZoneXML    `xml:"HostedZone"`
	DelegationSet delegationSetXML `xml:"DelegationSet"`
}

type listHostedZonesResponse struct {
	XMLName     xml.Name        `xml:"ListHostedZonesResponse"`
	Xmlns       string          `xml:"xmlns,attr"`
	HostedZones []hostedZoneXML `xml:"HostedZones>HostedZone"`
	Marker      string          `xml:"Marker"`
	IsTruncated bool            `xml:"IsTruncated"`
	NextMarker  string          `xml:"NextMarker,omitempty"`
	MaxItems    string          `xml:"MaxItems"`
}

type deleteHostedZoneResponse struct {
	XMLName    xml.Name      `xml:"DeleteHostedZoneResponse"`
	Xmlns      string        `xml:"xmlns,attr"`
	ChangeInfo changeInfoXML `xml:"ChangeInfo"`
}

type changeResourceRecordSetsResponse struct {
	XMLName    xml.Name      `xml:"ChangeResourceRecordSetsResponse"`
	Xmlns      string        `xml:"xmlns,attr"`
	ChangeInfo changeInfoXML `xml:"ChangeInfo"`
}

type listResourceRecordSetsResponse struct {
	XMLName            xml.Name       `xml:"ListResourceRecordSetsResponse"`
	Xmlns              string         `xml:"xmlns,attr"`
	ResourceRecordSets []recordSetXML `xml:"ResourceRecordSets>ResourceRecordSet"`
	IsTruncated        bool           `xml:"IsTruncated"`
	NextRecordName     string         `xml:"NextRecordName,omitempty"`
	NextRecordType     string         `xml:"NextRecordType,omitempty"`
	MaxItems           string         `xml:"MaxItems"`
}

type getChangeResponse struct {
	XMLName    xml.Name      `xml:"GetChangeResponse"`
	Xmlns      string        `xml:"xmlns,attr"`
	ChangeInfo changeInfoXML `xml:"ChangeInfo"`
}
