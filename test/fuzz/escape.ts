/** Prints an input so that it can be read in a terminal and pasted into a test as a string literal. */

/** A double-quoted JavaScript string literal of `buf` (bytes above 0x7e as \xNN), cut after `max` bytes. */
export function escapeInput(buf: Buffer, max = 600): string {
  const n = Math.min(buf.length, max);
  let out = '"';
  for (let i = 0; i < n; i++) {
    const c = buf[i];
    if (c === 0x0d) out += '\\r';
    else if (c === 0x0a) out += buf[i + 1] === undefined || i + 1 >= n ? '\\n' : '\\n" +\n  "';
    else if (c === 0x09) out += '\\t';
    else if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c < 0x20 || c > 0x7e) out += '\\x' + c.toString(16).padStart(2, '0');
    else out += String.fromCharCode(c);
  }
  out += '"';
  if (buf.length > n) out += ` ... (${buf.length - n} more bytes; --full prints all)`;
  return out;
}
