#!/bin/bash
# Starts slapd for the scim2ldap compose set-up, configured the way config/openldap.toml expects:
# suffix dc=example,dc=com with ou=people and ou=groups, the scim2ldap schema, and the memberof,
# refint and ppolicy overlays (memberOf on groupOfNames/member, a placeholder member for emptied
# groups, a default password policy with pwdLockout so pwdAccountLockedTime bars binds).
#
# Environment (all optional except the password):
#     LDAP_ADMIN_PASSWORD_FILE   file holding the password of cn=admin,SUFFIX (a Docker secret);
#                                one trailing newline is ignored, as scim2ldap does
#     LDAP_ADMIN_PASSWORD        the password itself, when there is no file
#     LDAP_SUFFIX                default dc=example,dc=com (must start with dc= or o=)
#     LDAP_URLS                  what slapd listens on, default ldap:///
#     SLAPD_LOG_LEVEL            slapd -d level, default "stats" (one line per operation)
#     LDAP_DATA_DIR, SLAPD_CONF, SLAPD_RUN_DIR, LDAP_SCHEMA_FILE, SLAPD_USER
#                                paths and the user slapd runs as (defaults below)
#
# The suffix and its initial entries are written once, into an empty LDAP_DATA_DIR; later starts
# keep the data. The configuration (slapd.conf) is written on every start.
set -euo pipefail

suffix=${LDAP_SUFFIX:-dc=example,dc=com}
data=${LDAP_DATA_DIR:-/var/lib/ldap}
conf=${SLAPD_CONF:-/etc/ldap/scim2ldap-slapd.conf}
schema=${LDAP_SCHEMA_FILE:-/etc/ldap/schema/scim2ldap.schema}
urls=${LDAP_URLS:-ldap:///}
log_level=${SLAPD_LOG_LEVEL:-stats}
user=${SLAPD_USER:-openldap}
run_dir=${SLAPD_RUN_DIR:-/run/slapd}
admin_dn="cn=admin,${suffix}"
policy_dn="cn=default,ou=policies,${suffix}"
placeholder="cn=empty-group-placeholder,${suffix}"

die() {
	echo "openldap: $*" >&2
	exit 1
}

[ -f "$schema" ] || die "no schema file at $schema (mount config/schema/scim2ldap.schema there)"

# The password, exactly as scim2ldap reads it from its own copy of the secret.
if [ -n "${LDAP_ADMIN_PASSWORD_FILE:-}" ]; then
	[ -r "$LDAP_ADMIN_PASSWORD_FILE" ] || die "cannot read LDAP_ADMIN_PASSWORD_FILE=$LDAP_ADMIN_PASSWORD_FILE"
	IFS= read -r -d '' password <"$LDAP_ADMIN_PASSWORD_FILE" || true
	password=${password%$'\n'}
	password=${password%$'\r'}
else
	password=${LDAP_ADMIN_PASSWORD:-}
fi
[ -n "$password" ] || die "set LDAP_ADMIN_PASSWORD_FILE (or LDAP_ADMIN_PASSWORD)"

# The suffix entry's object classes follow its first RDN.
first_rdn=${suffix%%,*}
rdn_value=${first_rdn#*=}
case ${first_rdn%%=*} in
dc | DC) suffix_entry="objectClass: dcObject
objectClass: organization
dc: ${rdn_value}
o: ${rdn_value}" ;;
o | O) suffix_entry="objectClass: organization
o: ${rdn_value}" ;;
*) die "LDAP_SUFFIX must start with dc= or o=, not '$first_rdn'" ;;
esac

# The root password goes into slapd.conf hashed; the clear text only passes through a 0600 file.
root_pw=$(
	umask 077
	pwfile=$(mktemp)
	printf '%s' "$password" >"$pwfile"
	slappasswd -T "$pwfile" 2>/dev/null
	status=$?
	rm -f "$pwfile"
	exit "$status"
) || die "slappasswd failed"
unset password

mkdir -p "$data" "$(dirname "$conf")"
cat >"$conf" <<EOF
# Written by $0 on every start; edit that script, not this file.
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
include ${schema}

pidfile  ${run_dir}/slapd.pid
argsfile ${run_dir}/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload ppolicy
moduleload memberof
moduleload refint
moduleload sssvlv

database mdb
maxsize 1073741824
suffix "${suffix}"
rootdn "${admin_dn}"
rootpw ${root_pw}
directory ${data}
limits dn.exact="${admin_dn}" size=unlimited time=unlimited

# The root DSE and the schema are public (health checks, clients discovering the server);
# entries are for bound users only, password hashes for nobody. cn=admin is not subject to ACLs.
access to dn.base="" by * read
access to dn.base="cn=Subschema" by * read
access to attrs=userPassword by self =xw by anonymous auth by * none
access to * by users read by * none

index objectClass eq
index entryUUID eq
index entryCSN eq
index uid eq,pres,sub
index cn eq,pres,sub
index mail eq,pres,sub
index displayName eq,pres,sub
index employeeNumber eq,pres
index scimExternalId eq,pres
index member eq
index uniqueMember eq
index memberUid eq

overlay memberof
memberof-group-oc groupOfNames
memberof-member-ad member
memberof-memberof-ad memberOf
memberof-refint TRUE

# A deleted manager disappears from its reports; a group that loses its last member gets the
# placeholder (groupOfNames must keep one member).
overlay refint
refint_attributes manager

overlay refint
refint_attributes member uniqueMember
refint_nothing "${placeholder}"

# Server-side sorting (RFC 2891) for sortBy.
overlay sssvlv

# pwdAccountLockedTime only bars binds under a policy with pwdLockout TRUE.
overlay ppolicy
ppolicy_default "${policy_dn}"
ppolicy_hash_cleartext
EOF
chmod 0640 "$conf"

if [ ! -e "$data/data.mdb" ]; then
	echo "openldap: empty database; creating ${suffix} with ou=people, ou=groups" >&2
	slapadd -f "$conf" -b "$suffix" <<EOF
dn: ${suffix}
${suffix_entry}

dn: ou=people,${suffix}
objectClass: organizationalUnit
ou: people

dn: ou=groups,${suffix}
objectClass: organizationalUnit
ou: groups

dn: ou=policies,${suffix}
objectClass: organizationalUnit
ou: policies

dn: ${policy_dn}
objectClass: device
objectClass: pwdPolicy
cn: default
pwdAttribute: userPassword
pwdLockout: TRUE
EOF
fi

mkdir -p "$run_dir"
if [ "$(id -u)" -eq 0 ] && [ "$user" != root ]; then
	chown -R "$user:$user" "$data" "$run_dir"
	chgrp "$user" "$conf"
fi

echo "openldap: slapd serving ${suffix} on ${urls} (bind as ${admin_dn})" >&2
# -d keeps slapd in the foreground as PID 1 and logs to stderr; it stops cleanly on SIGTERM.
exec slapd -d "$log_level" -h "$urls" -f "$conf" -u "$user" -g "$user"
