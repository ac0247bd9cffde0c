{{/*
The hub's NATS users for edge sites (edge.role=hub): every service user with the edge grants, the
hub gateway's grants for each site, and one leaf user per site with the site's permissions. The
grants come from files/nats/edge-hub.json (scripts/gen-nats-edge.ts, from libs/edge); `{site}`,
`{domain}` and `{hubDomain}` are substituted here. The text is exactly runtime's
renderNatsAuthorization of libs/edge hubServiceUsers + siteLeafPermissions (chart-edge.test.ts).
*/}}
{{- define "tessera.edge.sites" -}}
{{- $out := list -}}
{{- range .Values.edge.sites -}}
{{- $p := splitList "=" . -}}
{{- $out = append $out (dict "site" (first $p) "domain" (last $p)) -}}
{{- end -}}
{{- dict "sites" $out | toJson -}}
{{- end -}}

{{- define "tessera.edge.natsList" -}}
{{- $q := list -}}
{{- range . }}{{ $q = append $q (printf "          %s" (quote .)) }}{{ end -}}
{{- join ",\n" $q -}}
{{- end -}}

{{/* `authorization { users = [...] }` from a list of { user, env (password variable), publish, subscribe }. */}}
{{- define "tessera.edge.authorization" -}}
authorization {
  users = [
{{- range . }}
    {
      user: {{ .user | quote }}
      password: ${{ .env }}
      permissions: {
        publish: { allow: [
{{ include "tessera.edge.natsList" .publish }}
        ] }
        subscribe: { allow: [
{{ include "tessera.edge.natsList" .subscribe }}
        ] }
      }
    }
{{- end }}
  ]
}
{{- end -}}

{{- define "tessera.edge.hubAuth" -}}
{{- $t := .Files.Get "files/nats/edge-hub.json" | fromJson -}}
{{- $hubDomain := .Values.edge.hubDomain | default "hub" -}}
{{- $sites := (include "tessera.edge.sites" . | fromJson).sites -}}
{{- $users := list -}}
{{- range $u := $t.users -}}
{{- $pub := $u.publish -}}
{{- $sub := $u.subscribe -}}
{{- $perSite := index $t.perSite.services $u.user -}}
{{- if $perSite -}}
{{- range $s := $sites -}}
{{- range $perSite.publish }}{{ $pub = append $pub (replace "{site}" $s.site .) }}{{ end -}}
{{- range $perSite.subscribe }}{{ $sub = append $sub (replace "{site}" $s.site .) }}{{ end -}}
{{- end -}}
{{- $pub = $pub | uniq | sortAlpha -}}
{{- $sub = $sub | uniq | sortAlpha -}}
{{- end -}}
{{- $users = append $users (dict "user" $u.user "env" $u.passwordEnv "publish" $pub "subscribe" $sub) -}}
{{- end -}}
{{- range $s := $sites -}}
{{- $pub := list -}}
{{- $sub := list -}}
{{- range $t.perSite.leaf.publish }}{{ $pub = append $pub (. | replace "{site}" $s.site | replace "{domain}" $s.domain | replace "{hubDomain}" $hubDomain) }}{{ end -}}
{{- range $t.perSite.leaf.subscribe }}{{ $sub = append $sub (. | replace "{site}" $s.site | replace "{domain}" $s.domain | replace "{hubDomain}" $hubDomain) }}{{ end -}}
{{- $users = append $users (dict "user" $s.site "env" (printf "TESSERA_NATS_SITE_%s_PASSWORD" (regexReplaceAll "[^A-Z0-9]" (upper $s.site) "_")) "publish" $pub "subscribe" $sub) -}}
{{- end -}}
# Hub NATS users for edge sites (edge.role=hub), rendered by the chart (templates/_edge-nats.tpl).
# Passwords: $TESSERA_NATS_<SERVICE>_PASSWORD per service, $TESSERA_NATS_SITE_<SITE>_PASSWORD per site.
{{ include "tessera.edge.authorization" $users }}
{{ end -}}

{{/* The hub's leafnode listener: sites dial it with their leaf user (libs/edge hubServerConfig). */}}
{{- define "tessera.edge.hubLeafnodes" -}}
{{- $l := .Values.edge.leafnodes -}}
# Leafnode listener for edge sites (edge.role=hub); the hub's nats-server also needs
# jetstream { domain: {{ .Values.edge.hubDomain | default "hub" }} }.
leafnodes {
  port: {{ $l.port | default 7422 }}
{{- if $l.advertise }}
  advertise: {{ $l.advertise | quote }}
{{- else }}
  # Without advertise the hub hands leaves its own listen address (a site would reconnect around a load balancer).
  no_advertise: true
{{- end }}
{{- if $l.tlsDir }}
  tls {
    cert_file: {{ printf "%s/tls.crt" $l.tlsDir | quote }}
    key_file: {{ printf "%s/tls.key" $l.tlsDir | quote }}
    timeout: 5
  }
{{- end }}
}
{{ end -}}

{{/*
A site's NATS users (edge.role=site): every service user with the site's grants (libs/edge
siteServiceUsers: the site inbox prefix, the uplink through the hub's JetStream API, its uplink
bucket at the hub), from files/nats/edge-site.json with `{site}` and `{hubDomain}` substituted.
chart-edge.test.ts requires the text to equal renderNatsAuthorization(siteServiceUsers(...)).
*/}}
{{- define "tessera.edge.siteAuth" -}}
{{- $t := .Files.Get "files/nats/edge-site.json" | fromJson -}}
{{- $site := .Values.edge.site.site -}}
{{- $hubDomain := .Values.edge.site.hubDomain -}}
{{- $users := list -}}
{{- range $u := $t.users -}}
{{- $pub := list -}}
{{- $sub := list -}}
{{- range $u.publish }}{{ $pub = append $pub (. | replace "{site}" $site | replace "{hubDomain}" $hubDomain) }}{{ end -}}
{{- range $u.subscribe }}{{ $sub = append $sub (. | replace "{site}" $site | replace "{hubDomain}" $hubDomain) }}{{ end -}}
{{- $users = append $users (dict "user" $u.user "env" $u.passwordEnv "publish" ($pub | uniq | sortAlpha) "subscribe" ($sub | uniq | sortAlpha)) -}}
{{- end -}}
# Site NATS users (edge.role=site, site {{ $site }}), rendered by the chart (templates/_edge-nats.tpl).
# Passwords: $TESSERA_NATS_<SERVICE>_PASSWORD per service.
{{ include "tessera.edge.authorization" $users }}
{{ end -}}

{{/* The site's leaf connection to the hub (libs/edge siteServerConfig): TLS verified with edge.uplink.caFile. */}}
{{- define "tessera.edge.siteLeafnodes" -}}
# Leaf connection of site {{ .Values.edge.site.site }} to the hub (edge.role=site); the site's nats-server also
# needs jetstream { domain: {{ .Values.edge.site.domain | default .Values.edge.site.site }} }. $TESSERA_NATS_UPLINK_URL (a Secret) is the
# hub's leafnode URL with this site's credential: nats-leaf://{{ .Values.edge.site.site }}:<password>@<hub leaf address>:7422
# (nats-server takes a remote's login only from its URL, and reads variables only as whole values).
leafnodes {
  # nats-server retries every `reconnect` seconds; 1 s keeps catch-up after an outage prompt.
  reconnect: 1
  remotes: [
    {
      urls: [ $TESSERA_NATS_UPLINK_URL ]
{{- if .Values.edge.uplink.caFile }}
      tls {
        ca_file: {{ .Values.edge.uplink.caFile | quote }}
        timeout: 5
      }
{{- end }}
    }
  ]
}
{{ end -}}
