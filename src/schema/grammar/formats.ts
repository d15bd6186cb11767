/**
 * Grammars for JSON Schema string `format`s, over decoded string content (the caller quotes and escapes them).
 *
 * The validator that judges answers is ajv-formats 3 in "full" mode, so each grammar admits only strings that its
 * full validator accepts (calendar dates included: days per month, February 29 only in leap years), and a
 * realistic subset of them otherwise: every repeated part is bounded, so the compiler can bound the output of a
 * field (see {@link GrammarBuilder.maxLength}), and some rare spellings are left out (a lower-case `t`/`z` or a
 * space in date-times, offsets without a colon, userinfo in URIs, percent-escapes in URI-template literals). The
 * IDN and IRI formats, which ajv-formats does not check, are written as their ASCII counterparts.
 */

import { alt, chars, cls, type GExpr, type GrammarBuilder, lit, opt, rep, seq } from "./ir.js";

const DIGIT = cls([[0x30, 0x39]]);
const NONZERO = cls([[0x31, 0x39]]);
const ALPHA = cls([
  [0x41, 0x5a],
  [0x61, 0x7a],
]);
const ALNUM = cls([
  [0x30, 0x39],
  [0x41, 0x5a],
  [0x61, 0x7a],
]);
const HEX = cls([
  [0x30, 0x39],
  [0x41, 0x46],
  [0x61, 0x66],
]);
const ALNUM_DASH = cls([
  [0x30, 0x39],
  [0x41, 0x5a],
  [0x61, 0x7a],
  [0x2d, 0x2d],
]);
const UNRESERVED = "-._~";
const SUB_DELIMS = "!$&'()*+,;=";

/** A class of letters, digits and the listed characters. */
function alnumAnd(extra: string): GExpr {
  const codes = [...extra].map((c) => c.codePointAt(0) as number);
  return cls([[0x30, 0x39], [0x41, 0x5a], [0x61, 0x7a], ...codes.map((code) => [code, code] as const)]);
}

/** `count` copies of `item` (exactly). */
function times(item: GExpr, count: number): GExpr {
  return rep(item, count, count);
}

/** The formats the grammar writes. */
export const GRAMMAR_FORMATS: ReadonlySet<string> = new Set([
  "date",
  "time",
  "date-time",
  "duration",
  "uuid",
  "email",
  "idn-email",
  "hostname",
  "idn-hostname",
  "ipv4",
  "ipv6",
  "uri",
  "uri-reference",
  "iri",
  "iri-reference",
  "json-pointer",
  "relative-json-pointer",
  "uri-template",
  "byte",
]);

/**
 * The GExpr (decoded level) of a format, or undefined when the grammar does not write it. Parts shared between
 * formats (a date, an IPv4 address, a host) become named rules of `builder`, so a schema with several formats
 * writes each part once.
 */
export function formatExpr(format: string, builder: GrammarBuilder): GExpr | undefined {
  const parts = new Parts(builder);
  switch (format) {
    case "date":
      return parts.date();
    case "time":
      return parts.time();
    case "date-time":
      return builder.rule("fmt-date-time", seq(parts.date(), lit("T"), parts.time()));
    case "duration":
      return parts.duration();
    case "uuid":
      return builder.rule(
        "fmt-uuid",
        seq(
          times(HEX, 8),
          lit("-"),
          times(HEX, 4),
          lit("-"),
          times(HEX, 4),
          lit("-"),
          times(HEX, 4),
          lit("-"),
          times(HEX, 12),
        ),
      );
    case "email":
    case "idn-email":
      return parts.email();
    case "hostname":
    case "idn-hostname":
      return parts.hostname();
    case "ipv4":
      return parts.ipv4();
    case "ipv6":
      return parts.ipv6();
    case "uri":
    case "iri":
      return parts.uri();
    case "uri-reference":
    case "iri-reference":
      return builder.rule("fmt-uri-reference", alt(parts.uri(), parts.relativeRef()));
    case "json-pointer":
      return parts.jsonPointer();
    case "relative-json-pointer":
      return builder.rule(
        "fmt-relative-json-pointer",
        seq(alt(lit("0"), seq(NONZERO, rep(DIGIT, 0, 2))), alt(lit("#"), parts.jsonPointer())),
      );
    case "uri-template":
      return parts.uriTemplate();
    case "byte":
      return parts.base64();
    default:
      return undefined;
  }
}

/** The building blocks of the formats; each method returns a rule of the builder. */
class Parts {
  constructor(readonly builder: GrammarBuilder) {}

  /**
   * YYYY-MM-DD with the days each month has. February 29 needs a leap year, which is a property of the last two
   * digits (divisible by 4, not 00) or, for a century, of the first two (divisible by 4).
   */
  date(): GExpr {
    const day28 = alt(seq(lit("0"), NONZERO), seq(lit("1"), DIGIT), seq(lit("2"), chars("012345678")));
    const day30 = alt(day28, lit("29"), lit("30"));
    const day31 = alt(day30, lit("31"));
    const month31 = alt(seq(lit("0"), chars("13578")), seq(lit("1"), chars("02")));
    const month30 = alt(seq(lit("0"), chars("469")), lit("11"));
    const divisibleBy4 = alt(seq(chars("02468"), chars("048")), seq(chars("13579"), chars("26")));
    const leapYear = alt(
      seq(
        DIGIT,
        DIGIT,
        alt(seq(lit("0"), chars("48")), seq(chars("2468"), chars("048")), seq(chars("13579"), chars("26"))),
      ),
      seq(divisibleBy4, lit("00")),
    );
    const body = alt(
      seq(
        times(DIGIT, 4),
        lit("-"),
        alt(seq(month31, lit("-"), day31), seq(month30, lit("-"), day30), seq(lit("02-"), day28)),
      ),
      seq(leapYear, lit("-02-29")),
    );
    return this.builder.rule("fmt-date", body);
  }

  /** hh:mm:ss[.fraction] with Z or ±hh:mm; ajv's full `time` requires the offset. 23:59:60Z is the leap second. */
  time(): GExpr {
    const hour = alt(seq(chars("01"), DIGIT), seq(lit("2"), chars("0123")));
    const sixty = seq(chars("012345"), DIGIT);
    const fraction = opt(seq(lit("."), rep(DIGIT, 1, 9)));
    const offset = alt(lit("Z"), seq(chars("+-"), hour, lit(":"), sixty));
    const body = alt(
      seq(hour, lit(":"), sixty, lit(":"), sixty, fraction, offset),
      seq(lit("23:59:60"), fraction, lit("Z")),
    );
    return this.builder.rule("fmt-time", body);
  }

  /** ISO 8601 durations as ajv reads them: PnYnMnD, PTnHnMnS (each part optional, at least one), or PnW. */
  duration(): GExpr {
    const part = (unit: string) => seq(rep(DIGIT, 1, 6), lit(unit));
    const someOf = (a: GExpr, b: GExpr, c: GExpr) => alt(seq(a, opt(b), opt(c)), seq(b, opt(c)), c);
    const date = someOf(part("Y"), part("M"), part("D"));
    const time = seq(lit("T"), someOf(part("H"), part("M"), part("S")));
    return this.builder.rule("fmt-duration", seq(lit("P"), alt(seq(date, opt(time)), time, part("W"))));
  }

  /** local@domain: dot-separated atoms of RFC 5322 characters, then at least two DNS labels. */
  email(): GExpr {
    const atom = rep(alnumAnd("!#$%&'*+/=?^_`{|}~-"), 1, 20);
    const local = seq(atom, rep(seq(lit("."), atom), 0, 2));
    const domain = seq(rep(seq(this.label(24), lit(".")), 1, 3), this.label(24));
    return this.builder.rule("fmt-email", seq(local, lit("@"), domain));
  }

  /** A DNS label: letters, digits and inner dashes, at most `max` characters. */
  label(max: number): GExpr {
    return this.builder.rule(`fmt-label-${max}`, seq(ALNUM, opt(seq(rep(ALNUM_DASH, 0, max - 2), ALNUM))));
  }

  /** Up to six labels: the first up to 63 characters, the others up to 24 (188 in all; ajv allows 253). */
  hostname(): GExpr {
    return this.builder.rule("fmt-hostname", seq(this.label(63), rep(seq(lit("."), this.label(24)), 0, 5)));
  }

  /** Dotted quad of decimal octets without leading zeros (ajv's `ipv4` refuses them). */
  ipv4(): GExpr {
    const octet = alt(
      seq(lit("25"), chars("012345")),
      seq(lit("2"), chars("01234"), DIGIT),
      seq(lit("1"), DIGIT, DIGIT),
      seq(NONZERO, DIGIT),
      DIGIT,
    );
    const named = this.builder.rule("fmt-dec-octet", octet);
    return this.builder.rule("fmt-ipv4", seq(named, times(seq(lit("."), named), 3)));
  }

  /** The nine forms of RFC 4291 / RFC 3986 `IPv6address`, with an embedded IPv4 address where they allow one. */
  ipv6(): GExpr {
    const h16 = this.builder.rule("fmt-h16", rep(HEX, 1, 4));
    const h16c = seq(h16, lit(":"));
    const ls32 = alt(seq(h16, lit(":"), h16), this.ipv4());
    const before = (n: number) => opt(seq(rep(h16c, 0, n), h16));
    const body = alt(
      seq(times(h16c, 6), ls32),
      seq(lit("::"), times(h16c, 5), ls32),
      seq(opt(h16), lit("::"), times(h16c, 4), ls32),
      seq(before(1), lit("::"), times(h16c, 3), ls32),
      seq(before(2), lit("::"), times(h16c, 2), ls32),
      seq(before(3), lit("::"), h16c, ls32),
      seq(before(4), lit("::"), ls32),
      seq(before(5), lit("::"), h16),
      seq(before(6), lit("::")),
    );
    return this.builder.rule("fmt-ipv6", body);
  }

  /** One character of a path segment (RFC 3986 pchar), `extra` added: a plain character or a percent-escape. */
  #pchar(extra: string): GExpr {
    const pct = seq(lit("%"), HEX, HEX);
    return alt(alnumAnd(`${UNRESERVED}${SUB_DELIMS}:@${extra}`), pct);
  }

  /** `//host[:port]`: a DNS name (up to four labels of 20), an IPv4 address, a bracketed IPv6 address or nothing. */
  #authority(): GExpr {
    const name = seq(this.label(20), rep(seq(lit("."), this.label(20)), 0, 3));
    const host = alt(name, this.ipv4(), seq(lit("["), this.ipv6(), lit("]")));
    // The host may be empty, as in file:///etc/hosts.
    return this.builder.rule(
      "fmt-authority",
      seq(lit("//"), opt(host), opt(seq(lit(":"), rep(DIGIT, 1, 5)))),
    );
  }

  /** `?query` and `#fragment`, both optional. */
  #queryFragment(): GExpr {
    const more = this.#pchar("/?");
    return this.builder.rule(
      "fmt-query-fragment",
      seq(opt(seq(lit("?"), rep(more, 0, 20))), opt(seq(lit("#"), rep(more, 0, 10)))),
    );
  }

  /** Paths: after an authority (`/…` or nothing), absolute (`/…`, not `//`), and rootless (`a/…`). */
  #paths(): { abempty: GExpr; absolute: GExpr; rootless: GExpr; noscheme: GExpr } {
    const pchar = this.#pchar("");
    const tail = rep(this.#pchar("/"), 0, 27);
    const rootless = this.builder.rule("fmt-path-rootless", seq(pchar, tail));
    const noColon = alt(alnumAnd(`${UNRESERVED}${SUB_DELIMS}@`), seq(lit("%"), HEX, HEX));
    return {
      abempty: opt(seq(lit("/"), tail)),
      absolute: seq(lit("/"), opt(rootless)),
      rootless,
      // A relative path's first segment has no colon, or it would read as a scheme.
      noscheme: seq(noColon, rep(noColon, 0, 15), opt(seq(lit("/"), rep(this.#pchar("/"), 0, 15)))),
    };
  }

  /** scheme:[//authority]path[?query][#fragment]; an empty path is left out, since ajv's `uri` refuses it. */
  uri(): GExpr {
    const scheme = seq(ALPHA, rep(alnumAnd("+-."), 0, 9));
    const path = this.#paths();
    const hier = alt(seq(this.#authority(), path.abempty), path.absolute, path.rootless);
    return this.builder.rule("fmt-uri", seq(scheme, lit(":"), hier, this.#queryFragment()));
  }

  /** A relative reference: `//authority/path`, `/path`, `path` or nothing, then query and fragment. */
  relativeRef(): GExpr {
    const path = this.#paths();
    const part = opt(alt(seq(this.#authority(), path.abempty), path.absolute, path.noscheme));
    return this.builder.rule("fmt-relative-ref", seq(part, this.#queryFragment()));
  }

  /** `/`-separated reference tokens, with `~0` and `~1` for `~` and `/`: up to 8 tokens of up to 12 characters. */
  jsonPointer(): GExpr {
    // Any character but ~ and /; controls and lone surrogates are left out.
    const plain = cls(
      [
        [0x00, 0x1f],
        [0x2f, 0x2f],
        [0x7e, 0x9f],
        [0xd800, 0xdfff],
      ],
      true,
    );
    const token = rep(alt(plain, lit("~0"), lit("~1")), 0, 12);
    return this.builder.rule("fmt-json-pointer", rep(seq(lit("/"), token), 0, 8));
  }

  /** Base64 with padding (ajv-formats' `byte`): up to 64 groups of four, then an optional padded group. */
  base64(): GExpr {
    const digit = alnumAnd("+/");
    const padded = alt(seq(times(digit, 2), lit("==")), seq(times(digit, 3), lit("=")));
    return this.builder.rule("fmt-byte", seq(rep(times(digit, 4), 0, 64), opt(padded)));
  }

  /** RFC 6570 level-4 templates: literal runs and up to three `{op var:n,var*}` expressions. */
  uriTemplate(): GExpr {
    const literal = cls(
      [
        [0x00, 0x20],
        [0x22, 0x22],
        [0x25, 0x25],
        [0x27, 0x27],
        [0x3c, 0x3c],
        [0x3e, 0x3e],
        [0x5c, 0x5c],
        [0x5e, 0x5e],
        [0x60, 0x60],
        [0x7b, 0x7d],
        [0x7f, 0x9f],
        [0xd800, 0xdfff],
      ],
      true,
    );
    const run = rep(literal, 0, 32);
    const modifier = opt(alt(seq(lit(":"), NONZERO, rep(DIGIT, 0, 3)), lit("*")));
    const varspec = seq(rep(alnumAnd("_"), 1, 10), modifier);
    const expression = seq(
      lit("{"),
      opt(chars("+#./;?&=,!@|")),
      varspec,
      rep(seq(lit(","), varspec), 0, 2),
      lit("}"),
    );
    return this.builder.rule(
      "fmt-uri-template",
      seq(run, rep(seq(this.builder.rule("fmt-uri-expression", expression), run), 0, 3)),
    );
  }
}
