// Small IPv4 helpers for the inventory rules: parsing, CIDR containment and overlap, and picking a free
// private range to suggest when the user's choice clashes. IPv4 only, like the rest of kubesmith.

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
/** RFC 1123 host name: dot-separated labels of letters, digits and '-', not starting or ending with '-'. */
const HOSTNAME = /^(?=.{1,253}$)([A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?)*\.?$/;

export interface Cidr {
  /** Network address as an unsigned 32-bit integer (host bits cleared). */
  base: number;
  prefix: number;
  /** The text as written, e.g. 10.244.0.0/16. */
  text: string;
}

export function isIPv4(s: string): boolean {
  return IPV4.test(s);
}

/** An IPv4 address or a DNS name. A string of only digits and dots must be a valid IPv4 address. */
export function isAddressOrHostname(s: string): boolean {
  if (/^[\d.]+$/.test(s)) return isIPv4(s);
  return HOSTNAME.test(s);
}

export function ipv4ToInt(ip: string): number {
  if (!isIPv4(ip)) throw new RangeError(`not an IPv4 address: ${ip}`);
  return ip.split(".").reduce((acc, o) => acc * 256 + Number(o), 0);
}

export function intToIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Parses a.b.c.d/p; the host bits are cleared (10.244.1.0/16 is treated as 10.244.0.0/16). */
export function parseCidr(text: string): Cidr {
  const [ip, p, extra] = text.split("/");
  const prefix = Number(p);
  if (ip === undefined || p === undefined || extra !== undefined || !/^\d{1,2}$/.test(p) || prefix > 32) {
    throw new RangeError(`not an IPv4 CIDR: ${text}`);
  }
  return { base: (ipv4ToInt(ip) & mask(prefix)) >>> 0, prefix, text };
}

export function cidrSize(c: Cidr): number {
  return 2 ** (32 - c.prefix);
}

export function cidrContains(c: Cidr, ip: string | number): boolean {
  const n = typeof ip === "number" ? ip : ipv4ToInt(ip);
  return ((n & mask(c.prefix)) >>> 0) === c.base;
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  const p = Math.min(a.prefix, b.prefix);
  return ((a.base & mask(p)) >>> 0) === ((b.base & mask(p)) >>> 0);
}

/** The network of `ip` with the given prefix length, e.g. (192.168.56.11, 24) -> 192.168.56.0/24. */
export function networkOf(ip: string, prefix: number): Cidr {
  const base = (ipv4ToInt(ip) & mask(prefix)) >>> 0;
  return { base, prefix, text: `${intToIpv4(base)}/${prefix}` };
}

const PRIVATE_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"].map(parseCidr);

/**
 * A private range that overlaps nothing in `avoid` (CIDRs or single addresses): the first free one of
 * `preferred` (e.g. the Kubernetes defaults, whatever their size), else the first free aligned block of
 * the given prefix length in 10/8, 172.16/12 and 192.168/16. Undefined when nothing fits.
 */
export function suggestFreeCidr(prefix: number, avoid: Array<Cidr | string>, preferred: string[] = []): string | undefined {
  const blocks = avoid.map((a) => (typeof a === "string" ? { base: ipv4ToInt(a), prefix: 32, text: a } : a));
  const free = (c: Cidr) => !blocks.some((b) => cidrsOverlap(b, c));
  for (const p of preferred) {
    const c = parseCidr(p);
    if (free(c)) return c.text;
  }
  for (const range of PRIVATE_RANGES) {
    if (prefix < range.prefix) continue;
    const step = 2 ** (32 - prefix);
    for (let base = range.base; base < range.base + cidrSize(range); base += step) {
      const c = { base, prefix, text: `${intToIpv4(base)}/${prefix}` };
      if (free(c)) return c.text;
    }
  }
  return undefined;
}

/**
 * Why an IPv4 address cannot be a host's (or a VIP's), or undefined: 0.0.0.0/8 is "this network" (RFC 1122
 * 3.2.1.3, never a destination), 224.0.0.0/4 multicast (RFC 5771), 255.255.255.255 the limited broadcast
 * (RFC 919) and the rest of 240.0.0.0/4 reserved (RFC 1112 4; RFC 6890).
 */
export function unusableAddressProblem(ip: string): string | undefined {
  if (!isIPv4(ip)) return undefined;
  const first = Number(ip.split(".")[0]);
  if (ip === "255.255.255.255") return "is the limited broadcast address (RFC 919), not a host's";
  if (first === 0) return `is in 0.0.0.0/8, "this network" (RFC 1122), which is never a host's address`;
  if (first >= 224 && first <= 239) return "is a multicast address (224.0.0.0/4, RFC 5771), not a host's";
  if (first >= 240) return "is in the reserved range 240.0.0.0/4 (RFC 1112), not usable by a host";
  return undefined;
}

/** The network address of a CIDR written with host bits set (10.244.0.1/16 -> 10.244.0.0/16), else undefined. */
export function cidrWithHostBits(text: string): string | undefined {
  const c = parseCidr(text);
  const ip = text.split("/")[0]!;
  return ipv4ToInt(ip) === c.base ? undefined : `${intToIpv4(c.base)}/${c.prefix}`;
}
