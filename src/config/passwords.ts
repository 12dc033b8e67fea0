/**
 * Weak SIP passwords are refused at start: scanners (sipvicious and its
 * kin) try the extension, digits and short words first, and a guessed
 * password is a phone bill. Returns why a password is weak, or undefined.
 */
const ADVICE =
  'use 12 or more characters mixing letters, digits and symbols, such as the output of `openssl rand -base64 15` ' +
  '(toll fraud starts with weak SIP passwords)';

export function passwordWeakness(user: string, password: string): string | undefined {
  if (password.length < 8) return 'too short: use at least 8 characters (toll fraud starts with weak SIP passwords)';
  if (/^\d+$/.test(password)) return `too weak: digits only are found in minutes by SIP scanners; ${ADVICE}`;
  const p = password.toLowerCase();
  const u = user.toLowerCase();
  if (p === u) return `too weak: it is the user name, the first password a scanner tries; ${ADVICE}`;
  // A one- or two-character name would refuse most passwords; scanners try the longer ones inside words.
  if (u.length >= 3 && p.includes(u)) return `too weak: it contains the user name "${user}", which scanners try first; ${ADVICE}`;
  return undefined;
}
