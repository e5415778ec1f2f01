/**
 * The API keys file (STORYCAST_API_KEYS): who may call, as what tenant, for
 * which sessions, with which roles. The file holds SHA-256 hashes only, so
 * reading it (or a backup of it) does not give anyone a key. An entry may
 * instead (or also) name a client certificate's subject CN: with
 * STORYCAST_TLS_CLIENT_CA, a client presenting a certificate that CA signed
 * gets that entry's tenant, sessions and roles without a key.
 *
 * Nothing here ever puts a key or a hash in a message: problems name the
 * entry by its index, name and tenant.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';

const ROLES = ['send', 'read', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** How the caller proved who they are. */
type Credential = 'api-key' | 'client-certificate';

/** Who is calling, once a key or certificate matched an entry. */
export interface Principal {
  readonly tenant: string;
  /** What logs and errors call the credential: the entry's "name", else "<tenant>#<index>". Never the key or its hash. */
  readonly label: string;
  readonly roles: ReadonlySet<Role>;
  readonly via: Credential;
  /** The entry has the pattern "*": every session, and the calls that affect every tenant (experiments). */
  readonly allSessions: boolean;
  allowsSession(sessionId: string): boolean;
}

/** Problems with the file: a startup error the person running the server can fix (printed in one line, no stack). */
export class ApiKeysError extends Error {
  override readonly name = 'StartupError';
}

/** Session ids are letters, digits, ".", "_" and "-" (src/transport/sessions.ts); patterns add "*". */
const SESSION_PATTERN = /^[A-Za-z0-9._*-]{1,128}$/;
const NAME = /^[\w.:@-]{1,64}$/;

const entrySchema = z
  .strictObject({
    name: z.string({ error: 'expected a string' }).regex(NAME, { error: 'expected 1 to 64 letters, digits or . _ : @ -' }).optional(),
    // The input is never echoed: a mistyped hash is still close to a real one.
    sha256: z
      .string({ error: 'expected a string' })
      .regex(/^[0-9a-fA-F]{64}$/, { error: 'expected the SHA-256 of the key as 64 hex characters (echo -n KEY | sha256sum)' })
      .optional(),
    client_cert: z
      .strictObject({
        subject_cn: z.string({ error: 'expected a string' }).trim().min(1, { error: 'expected the certificate subject CN' }),
      })
      .optional(),
    tenant: z.string({ error: 'expected a string' }).trim().min(1, { error: 'expected a tenant name' }),
    sessions: z
      .array(
        z.string({ error: 'expected a string' }).regex(SESSION_PATTERN, {
          error: (issue) => `${JSON.stringify(issue.input)} is not a session id pattern (letters, digits, . _ - and *)`,
        }),
        { error: 'expected a list of session id patterns' },
      )
      .min(1, { error: 'expected at least one session id pattern, e.g. "t1-*" ("*" for every session)' }),
    roles: z
      .array(z.enum(ROLES, { error: (issue) => `${JSON.stringify(issue.input)} is not a role: expected send, read or admin` }), {
        error: 'expected a list of roles',
      })
      .min(1, { error: 'expected at least one role: send, read or admin' }),
  })
  .refine((entry) => entry.sha256 !== undefined || entry.client_cert !== undefined, {
    error: 'expected "sha256" (an API key), "client_cert" (a client certificate), or both',
  });

const fileSchema = z.strictObject({
  keys: z.array(entrySchema, { error: 'expected "keys": a list of entries' }).min(1, { error: 'expected at least one entry in "keys"' }),
});

type Entry = z.infer<typeof entrySchema>;

interface KeyedPrincipal {
  readonly hash: Buffer;
  readonly principal: Principal;
}

export class ApiKeys {
  private constructor(
    private readonly keyed: readonly KeyedPrincipal[],
    private readonly certified: ReadonlyMap<string, Principal>,
    /** Derived from the file: seals the page tokens of filtered lists (see list-sends.ts). */
    readonly secret: Buffer,
  ) {}

  /** `source` names the file in error messages (e.g. STORYCAST_API_KEYS="/etc/storycast/keys.json"). */
  static parse(text: string, source: string): ApiKeys {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (error) {
      // V8 quotes the text around the mistake, and that text may be a hash.
      const at = /position (\d+)/.exec((error as Error).message)?.[1];
      throw new ApiKeysError(`${source}: not valid JSON${at === undefined ? '' : ` (at character ${at})`}`);
    }
    const parsed = fileSchema.safeParse(raw);
    if (!parsed.success) throw new ApiKeysError(`${source}: ${describeIssues(parsed.error, raw)}`);
    const entries = parsed.data.keys;
    checkUnique(entries, source);

    const keyed: KeyedPrincipal[] = [];
    const certified = new Map<string, Principal>();
    entries.forEach((entry, index) => {
      const label = entry.name ?? `${entry.tenant}#${index}`;
      if (entry.sha256 !== undefined)
        keyed.push({ hash: Buffer.from(entry.sha256, 'hex'), principal: principalOf(entry, label, 'api-key') });
      if (entry.client_cert !== undefined) certified.set(entry.client_cert.subject_cn, principalOf(entry, label, 'client-certificate'));
    });
    const secret = createHash('sha256').update('storycast page tokens\0').update(text).digest();
    return new ApiKeys(keyed, certified, secret);
  }

  static load(file: string): ApiKeys {
    const source = `STORYCAST_API_KEYS=${JSON.stringify(file)}`;
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new ApiKeysError(`${source}: cannot read it: ${(error as Error).message}`);
    }
    return ApiKeys.parse(text, source);
  }

  /**
   * The entry whose hash is SHA-256(key). Every entry is compared, with
   * timingSafeEqual and no early exit, so the time taken does not depend on
   * which entry (if any) matched or how many leading bytes did. A Map keyed by
   * the hex hash would be safe too (the hash of a guess is no secret, and a
   * stored hash's prefix does not help find a key), but at tens of keys the
   * scan costs nothing and needs no such argument.
   */
  byKey(key: string): Principal | undefined {
    const digest = createHash('sha256').update(key, 'utf8').digest();
    let found: Principal | undefined;
    for (const entry of this.keyed) {
      if (timingSafeEqual(digest, entry.hash)) found = entry.principal;
    }
    return found;
  }

  /** The entry for a verified client certificate's subject CN (not secret: a Map is fine). */
  byCertificate(subjectCn: string): Principal | undefined {
    return this.certified.get(subjectCn);
  }
}

function principalOf(entry: Entry, label: string, via: Credential): Principal {
  const patterns = entry.sessions.map(globToRegExp);
  return {
    tenant: entry.tenant,
    label,
    roles: new Set(entry.roles),
    via,
    allSessions: entry.sessions.includes('*'),
    allowsSession: (sessionId) => patterns.some((pattern) => pattern.test(sessionId)),
  };
}

/** "t1-*" -> /^t1\-.*$/: "*" is any run of characters (none included); everything else is literal. */
export function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.split('*').map(escapeRegExp).join('.*')}$`);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');
}

/** Two entries with one key (or one certificate CN) would make the tenant depend on the order of the file. */
function checkUnique(entries: readonly Entry[], source: string): void {
  const hashes = new Map<string, number>();
  const cns = new Map<string, number>();
  entries.forEach((entry, index) => {
    const hash = entry.sha256?.toLowerCase();
    if (hash !== undefined) {
      const first = hashes.get(hash);
      if (first !== undefined) throw new ApiKeysError(`${source}: ${where(entries, index)}: the same key as ${where(entries, first)}`);
      hashes.set(hash, index);
    }
    const cn = entry.client_cert?.subject_cn;
    if (cn !== undefined) {
      const first = cns.get(cn);
      if (first !== undefined) {
        throw new ApiKeysError(
          `${source}: ${where(entries, index)}: client_cert.subject_cn ${JSON.stringify(cn)} is also ${where(entries, first)}'s`,
        );
      }
      cns.set(cn, index);
    }
  });
}

/** `keys[2] (name "ci", tenant "t1")`: enough to find the entry, never its hash. */
function where(entries: readonly unknown[], index: number): string {
  const entry = entries[index] as { name?: unknown; tenant?: unknown } | undefined;
  const about = [
    typeof entry?.name === 'string' ? `name ${JSON.stringify(entry.name)}` : '',
    typeof entry?.tenant === 'string' ? `tenant ${JSON.stringify(entry.tenant)}` : '',
  ].filter((part) => part !== '');
  return `keys[${index}]${about.length > 0 ? ` (${about.join(', ')})` : ''}`;
}

function describeIssues(error: z.ZodError, raw: unknown): string {
  const entries = Array.isArray((raw as { keys?: unknown } | null)?.keys) ? ((raw as { keys: unknown[] }).keys as unknown[]) : [];
  return error.issues
    .map((issue) => {
      const [first, second, ...rest] = issue.path;
      const at =
        first === 'keys' && typeof second === 'number'
          ? [where(entries, second), rest.length > 0 ? pathText(rest) : ''].filter(Boolean).join(': ')
          : pathText(issue.path);
      return `${at === '' ? '' : `${at}: `}${issue.message}`;
    })
    .join('; ');
}

function pathText(path: readonly PropertyKey[]): string {
  return path.map((part, i) => (typeof part === 'number' ? `[${part}]` : `${i === 0 ? '' : '.'}${String(part)}`)).join('');
}
