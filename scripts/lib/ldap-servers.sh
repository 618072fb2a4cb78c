# shellcheck shell=bash
# Throwaway OpenLDAP and 389 Directory Server instances on 127.0.0.1, for tests and the demo.
#
# Source it (works under `set -euo pipefail`):
#     . scripts/lib/ldap-servers.sh
#     ensure_ldap_packages
#     port=$(pick_free_port)
#     start_openldap "$dir/openldap" "$port"        ...   stop_openldap "$dir/openldap"
#     start_389ds    "$dir/389ds"    "$port" [NAME] ...   stop_389ds    "$dir/389ds"
#     start_openldap_pair "$dir" "$port_a" "$port_b"   ...   stop_openldap_pair "$dir"
#     start_389ds_pair    "$dir" "$port_a" "$port_b"   ...   stop_389ds_pair    "$dir"
# Root DNs: $OPENLDAP_ROOT_DN and $DS389_ROOT_DN, both with password $LDAP_ROOT_PW.
#
# Each server lives in its own DIR (data, config, logs, pid file), listens on loopback only and
# holds suffix dc=example,dc=com populated with ou=people, ou=groups and ou=outside (one user and
# one group there, which the daemon must never see: its bases are people and groups).
# No systemd, no Docker: plain processes, run as root.

LDAP_SUFFIX="dc=example,dc=com"
LDAP_ROOT_PW="admin-secret-pw"
OPENLDAP_ROOT_DN="cn=admin,${LDAP_SUFFIX}"
DS389_ROOT_DN="cn=Directory Manager"
# OpenLDAP's default password policy (ou=policies exists on OpenLDAP only).
OPENLDAP_PPOLICY_DN="cn=default,ou=policies,${LDAP_SUFFIX}"
# What OpenLDAP's refint writes into a group whose last member is deleted.
LDAP_EMPTY_GROUP_PLACEHOLDER="cn=empty-group-placeholder,dc=example,dc=com"
# The repo root, found from this file so callers may run from anywhere.
SCIM2LDAP_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

# Prints the message and fails. Callers add `return 1` so a failure stops the function even
# where `set -e` is off (inside `if`, `||`, or a caller's `!`).
_ldap_fail() {
	echo "ldap-servers: $*" >&2
	return 1
}

# True while PID runs. A zombie counts as gone: the daemons detach, so their parent is PID 1,
# which may take a second or two to reap them.
_ldap_pid_alive() {
	local state
	state=$(awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null) || return 1
	[ -n "$state" ] && [ "$state" != Z ]
}

# Installs what the servers and their tools need, only when something is missing.
ensure_ldap_packages() {
	ensure_nss_client_packages || return
	local pkg missing=()
	for pkg in slapd ldap-utils 389-ds-base python3-lib389 python3 openssl; do
		if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
			missing+=("$pkg")
		fi
	done
	[ "${#missing[@]}" -eq 0 ] && return 0
	echo "ldap-servers: installing ${missing[*]}" >&2
	local sudo=()
	[ "$(id -u)" -eq 0 ] || sudo=(sudo)
	"${sudo[@]}" apt-get update -qq
	# slapd's postinst would otherwise ask for a domain and an admin password.
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" >/dev/null
}

# Installs the NSS clients the integration tests resolve accounts with (nslcd with libnss-ldapd,
# and SSSD's LDAP provider with libnss-sss, libpam-sss and sssctl), only when missing, WITHOUT
# touching the machine's configuration: debconf is told to leave /etc/nsswitch.conf alone, a
# policy-rc.d keeps nslcd and sssd from starting during the install, the PAM profiles the
# install brings (sss, pwquality) are turned off with pam-auth-update, and /etc/nsswitch.conf
# and /etc/pam.d/common-* are checked (and restored if need be) to be byte-identical afterwards.
# The tests run nslcd and sssd themselves, in private mount namespaces with their own files.
ensure_nss_client_packages() {
	local pkg missing=()
	for pkg in nslcd libnss-ldapd sssd-ldap libnss-sss libpam-sss sssd-tools; do
		if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
			missing+=("$pkg")
		fi
	done
	[ "${#missing[@]}" -eq 0 ] && return 0
	echo "ldap-servers: installing ${missing[*]} (machine configuration left unchanged)" >&2
	local sudo=()
	[ "$(id -u)" -eq 0 ] || sudo=(sudo)
	local saved policy=/usr/sbin/policy-rc.d policy_saved="" file
	local protected=(/etc/nsswitch.conf /etc/pam.d/common-*)
	saved=$(mktemp -d) || return
	for file in "${protected[@]}"; do
		cp -p "$file" "$saved/${file##*/}" || return
	done
	ls /usr/share/pam-configs >"$saved/pam-configs" 2>/dev/null
	if [ -e "$policy" ]; then
		policy_saved=$(mktemp) || return
		"${sudo[@]}" cp -p "$policy" "$policy_saved" || return
	fi
	printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null || return
	"${sudo[@]}" chmod 755 "$policy"
	"${sudo[@]}" debconf-set-selections <<-EOF_DEBCONF
		libnss-ldapd libnss-ldapd/nsswitch multiselect
		libnss-ldapd libnss-ldapd/clean_nsswitch boolean false
		nslcd nslcd/ldap-uris string ldap://127.0.0.1/
		nslcd nslcd/ldap-base string ${LDAP_SUFFIX}
	EOF_DEBCONF
	local rc=0
	"${sudo[@]}" apt-get update -qq &&
		DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
			"${missing[@]}" >/dev/null || rc=$?
	if [ -n "$policy_saved" ]; then
		"${sudo[@]}" cp -p "$policy_saved" "$policy"
		rm -f "$policy_saved"
	else
		"${sudo[@]}" rm -f "$policy"
	fi
	# libpam-sss (and libpam-pwquality, which it brings) turn their PAM profiles on: turn every
	# new profile off the way an administrator would, so pam-auth-update keeps managing
	# common-* and never turns them on again.
	local new_profiles
	new_profiles=$(ls /usr/share/pam-configs 2>/dev/null | grep -vxF -f "$saved/pam-configs" || true)
	if [ -n "$new_profiles" ]; then
		# shellcheck disable=SC2086 # one word per profile
		"${sudo[@]}" pam-auth-update --disable $new_profiles || rc=$?
	fi
	for file in "${protected[@]}"; do
		if ! cmp -s "$saved/${file##*/}" "$file"; then
			echo "ldap-servers: the package install changed $file; restoring it" >&2
			"${sudo[@]}" cp -p "$saved/${file##*/}" "$file"
		fi
	done
	rm -rf "$saved"
	[ "$rc" -eq 0 ] || _ldap_fail "installing ${missing[*]} failed" || return 1
}

# Prints a TCP port that is free on 127.0.0.1 right now.
pick_free_port() {
	/usr/bin/python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# Waits until the server at URL answers a rootDSE read; fails after about 30 s.
_ldap_wait_ready() {
	local url=$1
	for _ in $(seq 1 300); do
		if ldapsearch -x -LLL -o nettimeout=2 -H "$url" -b '' -s base '(objectClass=*)' 1.1 >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	_ldap_fail "no answer from $url"
}

# LDIF of the initial entries under the suffix (the suffix entry itself is not included).
_ldap_initial_ldif() {
	cat <<EOF
dn: ou=people,${LDAP_SUFFIX}
objectClass: organizationalUnit
ou: people

dn: ou=groups,${LDAP_SUFFIX}
objectClass: organizationalUnit
ou: groups

dn: ou=outside,${LDAP_SUFFIX}
objectClass: organizationalUnit
ou: outside
description: Outside every scim2ldap base; the daemon must never read or touch it.

dn: uid=outsider,ou=outside,${LDAP_SUFFIX}
objectClass: inetOrgPerson
uid: outsider
cn: Outsider
sn: Outsider
mail: outsider@example.com

dn: cn=outsiders,ou=outside,${LDAP_SUFFIX}
objectClass: groupOfNames
cn: outsiders
member: uid=outsider,ou=outside,${LDAP_SUFFIX}
EOF
}

# ---------------------------------------------------------------------------------------------
# OpenLDAP

# start_openldap DIR PORT [SERVER_ID PEER_PORT]: slapd on ldap://127.0.0.1:PORT/, everything in
# DIR. With SERVER_ID and PEER_PORT it is one provider of a multi-provider pair (delta-syncrepl
# from the peer's accesslog, syncprov for it) with memberOf computed at read time by dynlist
# instead of slapo-memberof, which slapo-memberof(5) says does not work with syncrepl; only
# server 1 gets the initial entries.
start_openldap() {
	local dir=$1 port=$2 server_id=${3:-} peer_port=${4:-}
	mkdir -p "$dir/db" || return
	dir=$(cd "$dir" && pwd) || return
	local url="ldap://127.0.0.1:${port}/"
	if [ -f "$dir/slapd.pid" ] && _ldap_pid_alive "$(cat "$dir/slapd.pid")"; then
		_ldap_fail "an OpenLDAP already runs from $dir"
		return 1
	fi

	# Overlays stack: the last one declared runs first. sssvlv (Debian's slapd package) offers
	# server-side sorting (RFC 2891), which the README recommends for sortBy.
	local repl_global="" repl_schema="" repl_modules="" repl_log_db="" repl_db=""
	local member_of_overlay="overlay memberof
memberof-group-oc groupOfNames
memberof-member-ad member
memberof-memberof-ad memberOf
memberof-refint TRUE"
	# A single server keeps uidNumber unique among posixAccount entries and gidNumber among
	# posixGroup entries (slapo-unique); a user's gidNumber (its primary group) is shared freely.
	local unique_module="moduleload unique" unique_overlay="overlay unique
unique_uri ldap:///${LDAP_SUFFIX}?uidNumber?sub?(objectClass=posixAccount)
unique_uri ldap:///${LDAP_SUFFIX}?gidNumber?sub?(objectClass=posixGroup)"
	local member_refint_overlay="overlay refint
refint_attributes member uniqueMember
refint_nothing \"${LDAP_EMPTY_GROUP_PLACEHOLDER}\""
	if [ -n "$server_id" ]; then
		# refint's updates are local to each server and never replicated, so after a rename or
		# delete the providers could end with different member values (a group sent whole, by
		# a full refresh after a restart, before the sender's refint had run, reaches the peer
		# without the rename or delete that would make the peer's refint act). The daemon keeps
		# member values itself (referential_integrity = "daemon": memberships removed before a
		# delete, member DNs moved after a rename), in ordinary writes that replicate.
		member_refint_overlay=""
		unique_module="" unique_overlay=""
		repl_global="serverID ${server_id}"
		repl_schema="include /etc/ldap/schema/dyngroup.schema"
		repl_modules="moduleload syncprov
moduleload accesslog
moduleload dynlist"
		# Delta-syncrepl: each provider logs its successful writes in cn=accesslog and the peer
		# replays them one change at a time. Plain syncrepl sends whole entries, and refint's
		# updates of groups after a rename are local to each server (never replicated): a group
		# entry sent just before the sender's refint ran put the renamed member's old DN back
		# on the peer after the peer's own refint had replaced it, for good.
		# The accesslog database checkpoints its contextCSN too: one that never saved it makes up
		# a new one (the restart time, its own serverID) when it starts after a crash, the peer
		# takes that into its contextCSN, and the restarted server seems to lack a change it never
		# made, so a client waiting for it to catch up (fail-back) waits until its next write.
		mkdir -p "$dir/accesslog" || return
		repl_log_db="database mdb
maxsize 268435456
suffix \"cn=accesslog\"
rootdn \"cn=accesslog\"
directory ${dir}/accesslog
dbnosync
index default eq
index entryCSN,objectClass,reqEnd,reqResult,reqStart,reqDN
overlay syncprov
syncprov-nopresent TRUE
syncprov-reloadhint TRUE
syncprov-checkpoint 100 1
limits dn.exact=\"${OPENLDAP_ROOT_DN}\" size=unlimited time=unlimited"
		# syncprov and accesslog are declared before the other overlays so that they see the
		# writes that pass through those (the overlays declared last run first).
		repl_db="syncrepl rid=00${server_id} provider=ldap://127.0.0.1:${peer_port}/ bindmethod=simple
  binddn=\"${OPENLDAP_ROOT_DN}\" credentials=${LDAP_ROOT_PW} searchbase=\"${LDAP_SUFFIX}\"
  logbase=\"cn=accesslog\" logfilter=\"(&(objectClass=auditWriteObject)(reqResult=0))\"
  syncdata=accesslog type=refreshAndPersist retry=\"1 +\" network-timeout=3 timeout=3
multiprovider on
overlay syncprov
syncprov-checkpoint 100 1
overlay accesslog
logdb cn=accesslog
logops writes
logsuccess TRUE
logpurge 07+00:00 01+00:00"
		# memberOf of static groupOfNames groups, computed on every read from member values.
		member_of_overlay="overlay dynlist
dynlist-attrset groupOfURLs memberURL member+memberOf@groupOfNames"
	fi
	cat >"$dir/slapd.conf" <<EOF || return
# Generated by scripts/lib/ldap-servers.sh; throwaway test server.
${repl_global}
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
include ${SCIM2LDAP_ROOT}/config/schema/scim2ldap.schema
${repl_schema}

pidfile  ${dir}/slapd.pid
argsfile ${dir}/slapd.args
# Nothing reads syslog here; slapd reports config errors on stderr before it detaches.
loglevel none
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload ppolicy
moduleload memberof
moduleload refint
moduleload sssvlv
${unique_module}
${repl_modules}

sizelimit unlimited
timelimit unlimited

${repl_log_db}

database mdb
maxsize 1073741824
suffix "${LDAP_SUFFIX}"
rootdn "${OPENLDAP_ROOT_DN}"
rootpw ${LDAP_ROOT_PW}
directory ${dir}/db
limits dn.exact="${OPENLDAP_ROOT_DN}" size=unlimited time=unlimited
# Tests create and delete thousands of entries; durability does not matter here.
dbnosync

index objectClass eq
index entryUUID eq
index entryCSN eq
index uid eq,pres,sub
index cn eq,pres,sub
index mail eq,pres,sub
index displayName eq,pres,sub
index employeeNumber eq,pres
index scimExternalId eq,pres
index scimUserName eq,pres,sub
index member eq
index uniqueMember eq
index memberUid eq
index uidNumber eq
index gidNumber eq

${repl_db}

${member_of_overlay}

# Two refint instances: a group that loses its last member gets the placeholder (groupOfNames
# must keep one), while a deleted manager simply disappears from its reports.
overlay refint
refint_attributes manager

${member_refint_overlay}

overlay sssvlv

# pwdAccountLockedTime only bars binds under a policy with pwdLockout TRUE.
overlay ppolicy
ppolicy_default "${OPENLDAP_PPOLICY_DN}"
ppolicy_hash_cleartext

${unique_overlay}
EOF

	slapd -f "$dir/slapd.conf" -h "$url" -u root -g root 2>"$dir/slapd.log" ||
		{ cat "$dir/slapd.log" >&2; _ldap_fail "slapd did not start (config $dir/slapd.conf)"; return 1; }
	_ldap_wait_ready "$url" || return
	[ "${server_id:-1}" = 1 ] || return 0
	{
		cat <<EOF
dn: ${LDAP_SUFFIX}
objectClass: dcObject
objectClass: organization
dc: example
o: Example

dn: ${OPENLDAP_PPOLICY_DN#*,}
objectClass: organizationalUnit
ou: policies

dn: ${OPENLDAP_PPOLICY_DN}
objectClass: device
objectClass: pwdPolicy
cn: default
pwdAttribute: userPassword
pwdLockout: TRUE

EOF
		_ldap_initial_ldif
	} | ldapadd -x -H "$url" -D "$OPENLDAP_ROOT_DN" -w "$LDAP_ROOT_PW" >/dev/null
}

# stop_openldap DIR: stops the slapd started from DIR and waits for it to exit.
stop_openldap() {
	local dir=$1 pid
	[ -f "$dir/slapd.pid" ] || return 0
	pid=$(cat "$dir/slapd.pid")
	kill "$pid" 2>/dev/null || true
	for _ in $(seq 1 100); do
		_ldap_pid_alive "$pid" || break
		sleep 0.1
	done
	if _ldap_pid_alive "$pid"; then
		kill -9 "$pid" 2>/dev/null || true
	fi
	rm -f "$dir/slapd.pid"
}

# ---------------------------------------------------------------------------------------------
# 389 Directory Server
#
# lib389 (dscreate, dsctl) reads its paths from $PREFIX/share/dirsrv/inf/defaults.inf when PREFIX
# is set. We point PREFIX at DIR and write a defaults.inf that puts every instance file (config,
# schema, database, logs, pid, ldapi socket) under DIR and says there is no systemd; binaries,
# plugins and the system schema stay in /usr. data_dir is DIR/share too, so dscreate reads our
# copy of template-dse.ldif: the MemberOf, Referential Integrity and USN plugins, the loopback-only
# listener and the extra default indexes are in the very first dse.ldif, which spares a restart.

_ds389_write_defaults_inf() {
	local dir=$1
	mkdir -p "$dir/share/dirsrv/inf" "$dir/share/dirsrv/data" "$dir/etc/dirsrv/config" \
		"$dir/etc/dirsrv/schema" || return
	sed -e 's/^with_systemd = .*/with_systemd = 0/' \
		-e "s|^data_dir = .*|data_dir = ${dir}/share|" \
		-e "s|^sysconf_dir = .*|sysconf_dir = ${dir}/etc|" \
		-e "s|^initconfig_dir = .*|initconfig_dir = ${dir}/etc/default|" \
		-e "s|^config_dir = .*|config_dir = ${dir}/etc/dirsrv/slapd-{instance_name}|" \
		-e "s|^local_state_dir = .*|local_state_dir = ${dir}/var|" \
		-e "s|^run_dir = .*|run_dir = ${dir}/run|" \
		-e "s|^ldapi = .*|ldapi = ${dir}/run/slapd.socket|" \
		-e "s|^pid_file = .*|pid_file = ${dir}/run/slapd-{instance_name}.pid|" \
		-e "s|^inst_dir = .*|inst_dir = ${dir}/lib/dirsrv/slapd-{instance_name}|" \
		-e "s|^tmpfiles_d = .*|tmpfiles_d = ${dir}/etc/tmpfiles.d|" \
		-e "s|^user = .*|user = root|" \
		-e "s|^group = .*|group = root|" \
		-e "s|^schema_dir = .*|schema_dir = ${dir}/etc/dirsrv/slapd-{instance_name}/schema|" \
		-e "s|^cert_dir = .*|cert_dir = ${dir}/etc/dirsrv/slapd-{instance_name}|" \
		-e "s|^lock_dir = .*|lock_dir = ${dir}/run/lock/slapd-{instance_name}|" \
		-e "s|^log_dir = .*|log_dir = ${dir}/log|" \
		-e "s|^access_log = .*|access_log = ${dir}/log/access|" \
		-e "s|^audit_log = .*|audit_log = ${dir}/log/audit|" \
		-e "s|^error_log = .*|error_log = ${dir}/log/errors|" \
		-e "s|^security_log = .*|security_log = ${dir}/log/security|" \
		-e "s|^db_dir = .*|db_dir = ${dir}/var/db|" \
		-e "s|^db_home_dir = .*|db_home_dir = ${dir}/var/db|" \
		-e "s|^backup_dir = .*|backup_dir = ${dir}/var/bak|" \
		-e "s|^ldif_dir = .*|ldif_dir = ${dir}/var/ldif|" \
		/usr/share/dirsrv/inf/defaults.inf >"$dir/share/dirsrv/inf/defaults.inf" || return
	# dscreate copies sysconf_dir/dirsrv/schema into the instance: ship our schema from the start.
	cp /etc/dirsrv/schema/* "${SCIM2LDAP_ROOT}/config/schema/99scim2ldap.ldif" \
		"$dir/etc/dirsrv/schema/" || return
	cp /etc/dirsrv/config/slapd-collations.conf /etc/dirsrv/config/certmap.conf "$dir/etc/dirsrv/config/"
}

# Copies template-dse.ldif with our plugin, listener and index settings. dscreate replaces the
# first two '%' of each line, so added lines must not contain '%', '{' or '}'. With POSIX set to
# "posix", uidNumber and gidNumber are also kept unique (attribute uniqueness, among posixAccount
# and posixGroup entries respectively) and handed out by DNA for the magic value -1
# (uidNumber 500000-599999, gidNumber 600000-699999), on posixAccount / posixGroup entries only.
_ds389_write_template() {
	local dir=$1 posix=${2:-}
	awk -v RS= -v ORS='\n\n' -v posix="$posix" -v suffix="$LDAP_SUFFIX" '
		$0 ~ /^dn: cn=config\n/ {
			$0 = $0 "\nnsslapd-listenhost: 127.0.0.1\nnsslapd-sizelimit: -1"
		}
		$0 ~ /^dn: cn=MemberOf Plugin,cn=plugins,cn=config\n/ {
			sub(/nsslapd-pluginenabled: off/, "nsslapd-pluginenabled: on")
			$0 = $0 "\nmemberOfGroupAttr: uniqueMember"
		}
		$0 ~ /^dn: cn=referential integrity postoperation,cn=plugins,cn=config\n/ {
			sub(/nsslapd-pluginenabled: off/, "nsslapd-pluginenabled: on")
			$0 = $0 "\nreferint-membership-attr: manager"
		}
		$0 ~ /^dn: cn=USN,cn=plugins,cn=config\n/ {
			sub(/nsslapd-pluginenabled: off/, "nsslapd-pluginenabled: on")
		}
		posix == "posix" && $0 ~ /^dn: cn=Distributed Numeric Assignment Plugin,cn=plugins,cn=config\n/ {
			sub(/nsslapd-pluginenabled: off/, "nsslapd-pluginenabled: on")
		}
		{ print }
		END {
			if (posix == "posix") {
				split("uidNumber:posixAccount:500000:599999 gidNumber:posixGroup:600000:699999", ids, " ")
				for (i = 1; i <= 2; i++) {
					split(ids[i], a, ":")
					print "dn: cn=" a[1] " uniqueness,cn=plugins,cn=config\nobjectclass: top\nobjectclass: nsSlapdPlugin\nobjectclass: extensibleObject\ncn: " a[1] " uniqueness\nnsslapd-pluginpath: libattr-unique-plugin\nnsslapd-plugininitfunc: NSUniqueAttr_Init\nnsslapd-plugintype: betxnpreoperation\nnsslapd-pluginenabled: on\nuniqueness-attribute-name: " a[1] "\nuniqueness-subtrees: " suffix "\nuniqueness-across-all-subtrees: off\nuniqueness-subtree-entries-oc: " a[2] "\nnsslapd-plugin-depends-on-type: database"
					print "dn: cn=" a[1] ",cn=Distributed Numeric Assignment Plugin,cn=plugins,cn=config\nobjectclass: top\nobjectclass: extensibleObject\ncn: " a[1] "\ndnaType: " a[1] "\ndnaMagicRegen: -1\ndnaFilter: (objectclass=" a[2] ")\ndnaScope: " suffix "\ndnaNextValue: " a[3] "\ndnaMaxValue: " a[4]
					print "dn: cn=" a[1] ",cn=default indexes, cn=config,cn=ldbm database,cn=plugins,cn=config\nobjectclass: top\nobjectclass: nsIndex\ncn: " a[1] "\nnssystemindex: false\nnsindextype: eq"
				}
			}
			n = split("scimExternalId:eq,pres scimUserName:eq,pres,sub displayName:eq,pres,sub employeeNumber:eq,pres", idx, " ")
			for (i = 1; i <= n; i++) {
				split(idx[i], p, ":"); t = split(p[2], types, ",")
				e = "dn: cn=" p[1] ",cn=default indexes, cn=config,cn=ldbm database,cn=plugins,cn=config\nobjectclass: top\nobjectclass: nsIndex\ncn: " p[1] "\nnssystemindex: false"
				for (j = 1; j <= t; j++) e = e "\nnsindextype: " types[j]
				print e
			}
		}
	' /usr/share/dirsrv/data/template-dse.ldif >"$dir/share/dirsrv/data/template-dse.ldif" || return
	local want
	for want in 'nsslapd-listenhost: 127.0.0.1' 'memberOfGroupAttr: uniqueMember' \
		'referint-membership-attr: manager' 'cn: scimExternalId'; do
		grep -qF "$want" "$dir/share/dirsrv/data/template-dse.ldif" ||
			{ _ldap_fail "template-dse.ldif has changed shape; could not set '$want'"; return 1; }
	done
	local before after
	before=$(grep -c '^nsslapd-pluginenabled: on$' /usr/share/dirsrv/data/template-dse.ldif)
	after=$(grep -c '^nsslapd-pluginenabled: on$' "$dir/share/dirsrv/data/template-dse.ldif")
	local enabled=3
	[ "$posix" != posix ] || enabled=6
	[ "$after" -eq $((before + enabled)) ] ||
		{ _ldap_fail "template-dse.ldif has changed shape; could not enable the $enabled plugins"; return 1; }
}

# start_389ds DIR PORT [NAME [POSIX]]: a 389-ds instance on ldap://127.0.0.1:PORT/, its files in DIR.
# NAME defaults to one derived from DIR: ns-slapd names a POSIX semaphore in /dev/shm after it,
# so instances running side by side must not share a name. POSIX "posix": see _ds389_write_template.
start_389ds() {
	local dir=$1 port=$2 name=${3:-} posix=${4:-}
	mkdir -p "$dir" || return
	dir=$(cd "$dir" && pwd) || return
	[ -n "$name" ] || name="scim2ldap-$(printf '%s' "$dir" | cksum | cut -d' ' -f1)"
	local url="ldap://127.0.0.1:${port}/"
	if [ -e "$dir/etc/dirsrv/slapd-$name" ]; then
		_ldap_fail "a 389-ds instance already lives in $dir"
		return 1
	fi
	# The ldapi socket lives in DIR; a socket path has at most 107 bytes.
	[ "${#dir}" -lt 90 ] || { _ldap_fail "DIR path too long for the ldapi socket: $dir"; return 1; }

	_ds389_write_defaults_inf "$dir" || return
	_ds389_write_template "$dir" "$posix" || return
	echo "$name" >"$dir/instance-name" || return
	cat >"$dir/instance.inf" <<EOF
[general]
config_version = 2
full_machine_name = localhost
start = False
strict_host_checking = False
selinux = False

[slapd]
instance_name = ${name}
port = ${port}
secure_port = 0
root_dn = ${DS389_ROOT_DN}
root_password = ${LDAP_ROOT_PW}
self_sign_cert = False
user = root
group = root

[backend-userroot]
suffix = ${LDAP_SUFFIX}
create_suffix_entry = True
sample_entries = no
EOF
	# start = False: dscreate starts the server once to configure it and stops it again; we then
	# start it ourselves, which is seconds faster than lib389's restart (it polls once a second).
	if ! PREFIX=$dir dscreate from-file "$dir/instance.inf" >"$dir/dscreate.log" 2>&1; then
		cat "$dir/dscreate.log" >&2
		tail -n 30 "$dir/log/errors" >&2 2>/dev/null || true
		_ldap_fail "dscreate failed (log: $dir/dscreate.log)"
		return 1
	fi
	if ! /usr/sbin/ns-slapd -D "$dir/etc/dirsrv/slapd-$name" -i "$dir/run/slapd-$name.pid" \
		>>"$dir/log/ns-slapd.out" 2>&1; then
		tail -n 30 "$dir/log/errors" >&2 2>/dev/null || true
		_ldap_fail "ns-slapd did not start (log: $dir/log/errors)"
		return 1
	fi
	_ldap_wait_ready "$url" || return
	_ldap_initial_ldif | ldapadd -x -H "$url" -D "$DS389_ROOT_DN" -w "$LDAP_ROOT_PW" >/dev/null
}

# ds389_vlv_indexes PORT: VLV indexes for the daemon's default list searches (the example
# configs' bases and first object classes, sorted by the naming attribute), so that a list page
# is read by offset from the index. The README shows the same commands. 389-ds enables a new
# index (vlvEnabled: 1) only when it looks again, about a minute later, and sorts in memory until
# then; every add keeps it current. On a populated backend the reindex task must finish before
# pages are asked for. (`add-index --index-it` fails in lib389 2.3 after creating the entry,
# hence the separate reindex.)
ds389_vlv_indexes() {
	local port=$1 name base filter sort
	for spec in "users|ou=people,${LDAP_SUFFIX}|(objectClass=inetOrgPerson)|uid" \
		"groups|ou=groups,${LDAP_SUFFIX}|(objectClass=groupOfNames)|cn"; do
		IFS='|' read -r name base filter sort <<<"$spec"
		{
			_ds389 "$port" backend vlv-index add-search --name "scim2ldap-$name" \
				--search-base "$base" --search-scope 2 --search-filter "$filter" userRoot &&
				_ds389 "$port" backend vlv-index add-index --parent-name "scim2ldap-$name" \
					--index-name "scim2ldap-$name-by-$sort" --sort "$sort" userRoot &&
				_ds389 "$port" backend vlv-index reindex --parent-name "scim2ldap-$name" \
					--index-name "scim2ldap-$name-by-$sort" userRoot
		} >/dev/null || { _ldap_fail "creating the VLV index scim2ldap-$name failed"; return 1; }
	done
}

# ds389_substring_index PORT ATTR: a substring index on ATTR, built over the entries already there
# (the README shows the same commands). 389-ds sorts only searches its indexes answer: past
# nsslapd-idlistscanlimit candidates, `userName sw "a"` sorted needs `uid` indexed for substrings.
ds389_substring_index() {
	local port=$1 attr=$2
	{
		_ds389 "$port" backend index set --attr "$attr" --add-type sub userRoot &&
			_ds389 "$port" backend index reindex --attr "$attr" --wait userRoot
	} >/dev/null || { _ldap_fail "indexing $attr for substrings failed"; return 1; }
}

# stop_389ds DIR: stops the instance in DIR and removes it, with its files.
stop_389ds() {
	local dir=$1 name
	[ -f "$dir/instance-name" ] || return 0
	dir=$(cd "$dir" && pwd)
	name=$(cat "$dir/instance-name")
	# The data is thrown away, so no clean shutdown: that alone takes 389-ds over 3 s (it waits for
	# its database threads), and dsctl would then poll for the exit only once a second.
	local pidfile="$dir/run/slapd-$name.pid" pid
	if [ -f "$pidfile" ]; then
		pid=$(cat "$pidfile")
		kill -9 "$pid" 2>/dev/null || true
		for _ in $(seq 1 100); do
			_ldap_pid_alive "$pid" || break
			sleep 0.05
		done
		rm -f "$pidfile"
	fi
	if [ -e "$dir/etc/dirsrv/slapd-$name" ]; then
		PREFIX=$dir dsctl "$name" remove --do-it >"$dir/dsctl-remove.log" 2>&1 ||
			echo "ldap-servers: dsctl remove failed, see $dir/dsctl-remove.log" >&2
	fi
	# Left behind by a server that did not shut down cleanly.
	rm -f "/dev/shm/sem.slapd-$name.stats"
	[ "$dir" != / ] || return 1
	rm -rf "${dir:?}/etc" "${dir:?}/share" "${dir:?}/var" "${dir:?}/run" "${dir:?}/lib" "${dir:?}/log" \
		"${dir:?}/instance-name"
}

# ---------------------------------------------------------------------------------------------
# Replicated pairs: two servers on loopback ports, each writable, replicating to the other.

# Password of the 389-ds replication manager (cn=replication manager,cn=config).
DS389_REPL_PW="repl-secret-pw"

# Waits until DN can be read at URL (bound as BIND_DN); fails after about 30 s.
_ldap_wait_entry() {
	local url=$1 bind_dn=$2 dn=$3
	for _ in $(seq 1 300); do
		if ldapsearch -x -LLL -o nettimeout=2 -H "$url" -D "$bind_dn" -w "$LDAP_ROOT_PW" \
			-b "$dn" -s base '(objectClass=*)' 1.1 >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	_ldap_fail "$dn never reached $url"
}

# start_openldap_pair DIR PORT_A PORT_B: two OpenLDAP providers in multi-provider syncrepl,
# in DIR/a (serverID 1, with the initial entries) and DIR/b (serverID 2); returns once B holds them too.
start_openldap_pair() {
	local dir=$1 port_a=$2 port_b=$3
	start_openldap "$dir/a" "$port_a" 1 "$port_b" || return
	start_openldap "$dir/b" "$port_b" 2 "$port_a" || return
	_ldap_wait_entry "ldap://127.0.0.1:${port_b}/" "$OPENLDAP_ROOT_DN" \
		"cn=outsiders,ou=outside,${LDAP_SUFFIX}"
}

stop_openldap_pair() {
	local status=0
	stop_openldap "$1/a" || status=1
	stop_openldap "$1/b" || status=1
	return "$status"
}

# _ds389 PORT ARGS...: dsconf against the instance on PORT, as Directory Manager.
_ds389() {
	local port=$1
	shift
	dsconf -D "$DS389_ROOT_DN" -w "$LDAP_ROOT_PW" "ldap://127.0.0.1:${port}" "$@"
}

# start_389ds_pair DIR PORT_A PORT_B: two 389-ds suppliers (replica ids 1 and 2) with an
# agreement each way, in DIR/a and DIR/b; A gets the initial entries and initialises B. The instances are
# created side by side (dscreate is mostly waiting). memberOf is left out of the agreements
# (fractional replication): the MemberOf plugin runs on both suppliers and computes it locally.
start_389ds_pair() {
	local dir=$1 port_a=$2 port_b=$3 job_a job_b job_1 job_2 status=0
	start_389ds "$dir/a" "$port_a" >"$dir.a.log" 2>&1 &
	job_a=$!
	start_389ds "$dir/b" "$port_b" >"$dir.b.log" 2>&1 &
	job_b=$!
	wait "$job_a" || status=1
	wait "$job_b" || status=1
	cat "$dir.a.log" "$dir.b.log" >&2
	rm -f "$dir.a.log" "$dir.b.log"
	[ "$status" -eq 0 ] || { _ldap_fail "a 389-ds supplier did not start"; return 1; }
	local port id peer name
	for port in "$port_a" "$port_b"; do
		if [ "$port" = "$port_a" ]; then id=1 peer=$port_b name=to-b; else id=2 peer=$port_a name=to-a; fi
		{
			_ds389 "$port" replication enable --suffix "$LDAP_SUFFIX" --role supplier \
				--replica-id "$id" --bind-dn "cn=replication manager,cn=config" \
				--bind-passwd "$DS389_REPL_PW" &&
				_ds389 "$port" repl-agmt create --suffix "$LDAP_SUFFIX" --host 127.0.0.1 \
					--port "$peer" --conn-protocol LDAP --bind-dn "cn=replication manager,cn=config" \
					--bind-passwd "$DS389_REPL_PW" --bind-method SIMPLE --frac-list memberOf "$name"
		} >"$dir.$id.log" 2>&1 &
		eval "job_$id=\$!"
	done
	wait "$job_1" || status=1
	wait "$job_2" || status=1
	if [ "$status" -ne 0 ]; then
		cat "$dir.1.log" "$dir.2.log" >&2
		_ldap_fail "enabling replication failed"
		return 1
	fi
	rm -f "$dir.1.log" "$dir.2.log"
	# A supplier that was down is retried within 3 s instead of backing off up to 5 minutes.
	for port in "$port_a" "$port_b"; do
		ldapmodify -x -H "ldap://127.0.0.1:${port}" -D "$DS389_ROOT_DN" -w "$LDAP_ROOT_PW" >/dev/null <<EOF || return
dn: cn=replica,cn=dc\3Dexample\2Cdc\3Dcom,cn=mapping tree,cn=config
changetype: modify
replace: nsds5ReplicaBackoffMin
nsds5ReplicaBackoffMin: 1
-
replace: nsds5ReplicaBackoffMax
nsds5ReplicaBackoffMax: 3
EOF
	done
	_ds389 "$port_a" repl-agmt init --suffix "$LDAP_SUFFIX" to-b >/dev/null || return
	local out
	for _ in $(seq 1 120); do
		out=$(_ds389 "$port_a" repl-agmt init-status --suffix "$LDAP_SUFFIX" to-b 2>&1) || true
		case $out in
		*"successfully initialized"*) return 0 ;;
		*[Ff]ailed* | *[Ee]rror*) _ldap_fail "initialising B failed: $out"; return 1 ;;
		esac
		sleep 0.25
	done
	_ldap_fail "initialising B did not finish: $out"
}

stop_389ds_pair() {
	local status=0
	stop_389ds "$1/a" || status=1
	stop_389ds "$1/b" || status=1
	return "$status"
}
