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

{{- define "tessera.edge.hubAuth" -}}
{{- $t := .Files.Get "files/nats/edge-hub.json" | fromJson -}}
{{- $hubDomain := .Values.edge.hubDomain | default "hub" -}}
{{- $sites := (include "tessera.edge.sites" . | fromJson).sites -}}
{{- $users := list -}}
{{- range $u := $t.users -}}
{{- $pub := $u.publish -}}
{{- $sub := $u.subscribe -}}
{{- if eq $u.user "gateway" -}}
{{- range $s := $sites -}}
{{- range $t.perSite.gateway.publish }}{{ $pub = append $pub (replace "{site}" $s.site .) }}{{ end -}}
{{- range $t.perSite.gateway.subscribe }}{{ $sub = append $sub (replace "{site}" $s.site .) }}{{ end -}}
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
authorization {
  users = [
{{- range $users }}
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
