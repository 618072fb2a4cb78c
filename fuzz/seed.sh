#!/usr/bin/env bash
# Writes seed inputs for the fuzz targets into fuzz/corpus/<target>/: the
# filters, attribute paths and PATCH bodies Entra and other SCIM clients send
# (shared/ENTRA.md, the example configs' attribute maps, the integration
# tests). One file per input, named by its SHA-1 as libFuzzer does, so
# running it again adds nothing twice.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

put() { # target text
	local dir=$here/corpus/$1
	mkdir -p "$dir"
	local name
	name=$(printf '%s' "$2" | sha1sum | cut -d' ' -f1)
	printf '%s' "$2" >"$dir/$name"
}

ENT=urn:ietf:params:scim:schemas:extension:enterprise:2.0:User
CON=urn:ietf:params:scim:schemas:extension:contactify:2.0:User
ID=2819c223-7f76-453a-919d-413861904646

# Attribute paths: every key of the example attribute maps, plus the forms
# of RFC 7644 §3.10 and the PATCH paths Entra sends.
paths=(
	userName externalId displayName title preferredLanguage active password
	name.givenName name.familyName name.formatted
	'emails[type eq "work"].value'
	'addresses[type eq "work"].formatted' 'addresses[type eq "work"].streetAddress'
	'addresses[type eq "work"].locality' 'addresses[type eq "work"].region'
	'addresses[type eq "work"].postalCode' 'addresses[type eq "work"].country'
	'phoneNumbers[type eq "work"].value' 'phoneNumbers[type eq "mobile"].value'
	'phoneNumbers[type eq "fax"].value' 'roles[primary eq "True"].value'
	'roles[primary eq true].value'
	"$ENT:employeeNumber" "$ENT:department" "$ENT:manager" "$ENT:manager.value"
	"$CON:uid" "$CON:externalCompanyId" "$CON:orderCard" "$CON:deliverCardToHeadquarters"
	"$ENT" "$CON"
	members "members[value eq \"$ID\"]" 'members.value' 'members[type eq "User" and value sw "28"]'
	'urn:ietf:params:scim:schemas:core:2.0:User:name.familyName'
	'emails[type eq "work" and value co "@example.com"]' '$ref' 'manager.$ref'
	id meta.created meta.lastModified meta.version groups 'groups[value eq "x"].display'
	'  userName  ' 'emails [type eq "work"] .value'
)
for p in "${paths[@]}"; do put path "$p"; done

# Filters: Entra's (test connection, matching, group lookup) and the RFC
# 7644 §3.4.2.2 examples, with hostile values.
filters=(
	'userName eq "7a9b2c1d-0f3e-4d5a-9b8c-1e2f3a4b5c6d"'
	'userName eq "alice@contoso.com"'
	'externalId eq "0a4f3b1e-5c6d-4e7f-8a9b-0c1d2e3f4a5b"'
	"id eq \"$ID\""
	'displayName eq "Sales"'
	'userName eq "alice@contoso.com" and externalId eq "e1"'
	'userName Eq "john"'
	"name.familyName co \"O'Malley\""
	'userName sw "J"'
	'urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J"'
	'title pr'
	'meta.lastModified gt "2011-05-13T04:42:34Z"'
	'meta.lastModified ge "2011-05-13T04:42:34Z"'
	'meta.lastModified lt "2011-05-13T04:42:34Z"'
	'meta.lastModified le "2011-05-13T04:42:34Z"'
	'title pr and userType eq "Employee"'
	'title pr or userType eq "Intern"'
	'schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"'
	'userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")'
	'userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")'
	'userType eq "Employee" and (emails.type eq "work")'
	'userType eq "Employee" and emails[type eq "work" and value co "@example.com"]'
	'emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]'
	'emails[type eq "work"].value eq "a@example.com"'
	"members.value eq \"$ID\""
	"$CON:orderCard eq true"
	"$ENT:employeeNumber ge 100 and $ENT:employeeNumber le 1e3"
	'active eq false'
	'nickName eq null'
	'userName eq "*)(uid=*"'
	'userName eq "a\\b\u0000c\ud83d\ude00"'
	'not(userName eq "x")'
	'((((a pr))))'
	'a eq -1.5e+3 or (b pr and c eq null)'
)
for f in "${filters[@]}"; do put filter "$f"; done

# PATCH bodies: every form in shared/ENTRA.md.
op() { # operations JSON
	printf '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":%s}' "$1"
}
bodies=(
	"$(op '[{"op":"Replace","path":"active","value":false}]')"
	"$(op '[{"op":"Replace","path":"active","value":"False"}]')"
	"$(op '[{"op":"replace","path":"active","value":"True"}]')"
	"$(op '[{"op":"Replace","path":"displayName","value":"Sales EMEA"}]')"
	"$(op '[{"op":"Replace","path":"userName","value":"renamed@contoso.com"}]')"
	"$(op "[{\"op\":\"Add\",\"path\":\"members\",\"value\":[{\"\$ref\":null,\"value\":\"$ID\"},{\"value\":\"11111111-1111-1111-1111-111111111111\"}]}]")"
	"$(op "[{\"op\":\"Remove\",\"path\":\"members\",\"value\":[{\"\$ref\":null,\"value\":\"$ID\"}]}]")"
	"$(op "[{\"op\":\"remove\",\"path\":\"members[value eq \\\"$ID\\\"]\"}]")"
	"$(op "[{\"op\":\"replace\",\"path\":\"members\",\"value\":[{\"value\":\"$ID\"}]}]")"
	"$(op '[{"op":"remove","path":"members"}]')"
	"$(op "[{\"op\":\"add\",\"value\":{\"members\":[{\"value\":\"$ID\"}]}}]")"
	"$(op "[{\"op\":\"Replace\",\"value\":{\"displayName\":\"D\",\"name.givenName\":\"G\",\"$ENT:employeeNumber\":\"42\"}}]")"
	"$(op "[{\"op\":\"Replace\",\"value\":{\"$ENT\":{\"department\":\"R&D\"}}}]")"
	"$(op "[{\"op\":\"Replace\",\"path\":\"$ENT:manager\",\"value\":\"$ID\"}]")"
	"$(op "[{\"op\":\"Replace\",\"path\":\"$ENT:manager\",\"value\":{\"value\":\"$ID\"}}]")"
	"$(op "[{\"op\":\"Remove\",\"path\":\"$ENT:manager\"}]")"
	"$(op '[{"op":"Replace","path":"emails[type eq \"work\"].value","value":"a@example.org"}]')"
	"$(op '[{"op":"Add","path":"phoneNumbers[type eq \"fax\"].value","value":"+1 555 0102"}]')"
	"$(op '[{"op":"Replace","path":"roles[primary eq \"True\"].value","value":"Reader"}]')"
	"$(op "[{\"op\":\"Replace\",\"path\":\"$CON:orderCard\",\"value\":false}]")"
	"$(op "[{\"op\":\"Remove\",\"path\":\"$CON\"}]")"
	"$(op '[{"op":"replace","path":"title","value":"A"},{"op":"add","path":"phoneNumbers[type eq \"fax\"].value","value":"+1"},{"op":"remove","path":"addresses[type eq \"work\"].region"}]')"
	"$(op '[{"op":"replace","path":"id","value":"x"}]')"
	"$(op '[{"op":"replace","path":"password","value":"Sup3r-Secret-pw!"}]')"
	"$(op '[]')"
	'{"Operations":[{"op":"add","path":"title","value":"x"}]}'
)
for b in "${bodies[@]}"; do put patch "$b"; done

for t in filter path patch; do
	echo "seed: $(find "$here/corpus/$t" -type f | wc -l) inputs in fuzz/corpus/$t"
done
