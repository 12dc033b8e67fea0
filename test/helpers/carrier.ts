/**
 * A "carrier" for trunk tests: Kamailio 5.6 as an ITSP's edge. Customers
 * register with digest auth (401), their INVITEs are challenged too (407,
 * the From user left free: it carries the caller ID), and calls to E.164
 * numbers (+...) go on to a "PSTN" (a SIPp on its own address). Calls from
 * that PSTN address for one of the carrier's DIDs are sent to the customer
 * who owns the DID, at the Contact it registered — the Request-URI then
 * names the account, the To header the DID, as real carriers do.
 *
 * `failRegisters: n` answers the first n REGISTERs 503 (a carrier outage).
 */
import { startKamailioRegistrar, type KamailioConfigParams, type KamailioRegistrar } from './kamailio.js';

export interface CarrierOptions {
  /** Account → password. */
  users: Record<string, string>;
  /** Where the PSTN is (a SIPp): calls to +numbers go there; calls from its address are the PSTN's. */
  pstn: { address: string; port: number };
  /** DID (as the PSTN sends it, `+4930123456`) → the account that owns it. */
  dids: Record<string, string>;
  failRegisters?: number;
  port?: number;
  debug?: number;
}

function kamString(s: string, what: string): string {
  if (!/^[+\w.-]+$/.test(s)) throw new Error(`${what} ${JSON.stringify(s)} cannot go into kamailio.cfg`);
  return s;
}

export function carrierConfig(p: KamailioConfigParams, o: CarrierOptions): string {
  const pstn = `${kamString(o.pstn.address, 'PSTN address')}:${o.pstn.port}`;
  const didRules = Object.entries(o.dids)
    .map(([did, user]) => `\tif ($rU == "${kamString(did, 'DID')}") $rU = "${kamString(user, 'account')}";`)
    .join('\n');
  return `#!KAMAILIO
debug=${p.debug}
log_stderror=yes
log_prefix="{$mt $hdr(CSeq) $ci} "
children=2
disable_tcp=yes
auto_aliases=no
listen=udp:127.0.0.1:${p.port}
alias="${p.domain}:${p.port}"
dns=no
rev_dns=no
use_dns_cache=off
force_rport=yes

mpath="${p.mpath}"

loadmodule "ctl.so"
loadmodule "db_text.so"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "siputils.so"
loadmodule "textops.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "auth.so"
loadmodule "auth_db.so"
loadmodule "nathelper.so"
loadmodule "xlog.so"

modparam("ctl", "binrpc", "unix:${p.ctlSocket}")
modparam("pv", "shvset", "regs=i:0")
modparam("usrloc", "db_mode", 0)
modparam("registrar", "max_expires", 3600)
modparam("registrar", "min_expires", 5)
modparam("registrar", "default_expires", 300)
modparam("auth_db", "db_url", "text://${p.dbDir}")
modparam("auth_db", "calculate_ha1", yes)
modparam("auth_db", "password_column", "password")
modparam("auth_db", "load_credentials", "")
modparam("auth_db", "use_domain", 0)
modparam("auth", "qop", "auth")
modparam("nathelper", "received_avp", "$avp(RECEIVED)")
modparam("registrar", "received_avp", "$avp(RECEIVED)")

request_route {
	if (!mf_process_maxfwd_header("70")) {
		sl_send_reply("483", "Too Many Hops");
		exit;
	}
	force_rport();
	if (has_totag()) {
		if (loose_route()) {
			t_relay();
			exit;
		}
		if (is_method("ACK")) {
			if (t_check_trans()) t_relay();
			exit;
		}
		sl_send_reply("404", "Not Here");
		exit;
	}
	if (is_method("CANCEL")) {
		if (t_check_trans()) t_relay();
		exit;
	}
	t_check_trans();

	if (is_method("REGISTER")) {
		$shv(regs) = $shv(regs) + 1;
		if ($shv(regs) <= ${o.failRegisters ?? 0}) {
			xlog("L_NOTICE", "carrier: REGISTER $shv(regs) from $fu refused: maintenance\\n");
			sl_send_reply("503", "Maintenance");
			exit;
		}
		if (!auth_check("${p.domain}", "subscriber", "1")) {
			auth_challenge("${p.domain}", "1");
			exit;
		}
		consume_credentials();
		fix_nated_register();
		if (!save("location")) {
			sl_reply_error();
			exit;
		}
		xlog("L_NOTICE", "carrier: REGISTER saved $tu -> $ct\\n");
		exit;
	}
	if (!is_method("INVITE")) {
		sl_send_reply("405", "Method Not Allowed");
		exit;
	}
	if (!uri == myself) {
		sl_send_reply("403", "Relaying Denied");
		exit;
	}
	record_route();
	if ($si == "${kamString(o.pstn.address, 'PSTN address')}") {
		xlog("L_NOTICE", "carrier: PSTN call from $fU for DID $rU\\n");
${didRules}
		if (!lookup("location")) {
			sl_send_reply("480", "Temporarily Unavailable");
			exit;
		}
		t_relay();
		exit;
	}
	if (!auth_check("${p.domain}", "subscriber", "0")) {
		auth_challenge("${p.domain}", "1");
		exit;
	}
	consume_credentials();
	if ($rU =~ "^\\+[0-9]+$") {
		xlog("L_NOTICE", "carrier: call for account $au from $fU to $rU\\n");
		$du = "sip:${pstn}";
		t_relay();
		exit;
	}
	sl_send_reply("404", "Not Found - E.164 numbers only");
	exit;
}
`;
}

export function startCarrier(o: CarrierOptions): Promise<KamailioRegistrar> {
  return startKamailioRegistrar({ users: o.users, port: o.port, debug: o.debug, config: (p) => carrierConfig(p, o) });
}
