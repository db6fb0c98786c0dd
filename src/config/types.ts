// The validated configuration (docs/csync.toml.5.md) and this node's resolved view of it. Types only.
import type { AutoPolicy, GroupName, IgnoredAttr, NodeName, RootId } from '../core/types.ts';

/** Default TCP port (csync2's). */
export const DEFAULT_PORT = 30865;

/** One `[[groups.NAME.actions]]` entry. */
export interface ActionConfig {
  /** Patterns as written (may contain %prefix%); matched like include/exclude patterns. */
  readonly pattern: readonly string[];
  readonly exec: string;
  /** Run before `exec`, after the files are in place (e.g. `nginx -t`): exec runs only if it exits 0. */
  readonly check?: string | undefined;
  /** Run after `exec` (e.g. a health probe): a failure is reported (CSYNC_ACTION_FAILED). */
  readonly verify?: string | undefined;
  readonly logfile: string | undefined;
  readonly doLocal: boolean;
  readonly doLocalOnly: boolean;
  readonly timeoutMs: number;
}

/** One `[groups.NAME]` table, validated, with defaults filled in. Paths are unexpanded. */
export interface GroupConfig {
  readonly name: GroupName;
  readonly hosts: readonly NodeName[];
  readonly receiveOnly: readonly NodeName[];
  /** Path of the key file (may contain %h). */
  readonly keyFile: string;
  /** Roots as written, e.g. "%www%/htdocs"; each is absolute once prefixes are expanded. */
  readonly include: readonly RootId[];
  readonly exclude: readonly string[];
  readonly auto: AutoPolicy;
  readonly backupDir: string | undefined;
  readonly backupGenerations: number;
  readonly ignore: readonly IgnoredAttr[];
  readonly watch: boolean;
  readonly checkIntervalMs: number;
  /** Largest share of a group's files one update may delete on a peer, 0..100 (docs/semantics.md, "Safety rails"). */
  readonly maxDeletePercent: number;
  /**
   * `allow_setid`: keep setuid/setgid bits on files a peer sends. Off by default: they are
   * stripped on arrival (a peer could otherwise plant a setuid-root binary on every node).
   * The parser always sets it; absent (hand-built configs in tests) means false.
   */
  readonly allowSetid?: boolean;
  readonly actions: readonly ActionConfig[];
}

/** One `[hosts]` entry. */
export interface HostConfig {
  readonly name: NodeName;
  /** Host name or IP address, without brackets for IPv6. */
  readonly address: string;
  readonly port: number;
}

/** The whole validated file: identical on every node. */
export interface Config {
  /** Where it was read from (for messages). */
  readonly source: string;
  readonly port: number;
  readonly stateDir: string;
  /**
   * `idle_timeout`: a peer link whose pending request sees no bytes move, in either direction, for
   * this long fails that request (and a stalled transfer closes the link). Default 30 s (PeerLink).
   */
  readonly idleTimeoutMs?: number;
  readonly tls: {
    readonly cert: string;
    readonly key: string;
    /** Peer name → "sha256:<hex>" of its certificate's DER. */
    readonly pins: Readonly<Record<NodeName, string>>;
    /** `require_pins`: no trust on first use; a peer without a pin in `pins` is refused. */
    readonly requirePins: boolean;
  };
  readonly hosts: Readonly<Record<NodeName, HostConfig>>;
  /** Prefix name → node name (or "default") → absolute path. */
  readonly prefixes: Readonly<Record<string, Readonly<Record<string, string>>>>;
  readonly groups: Readonly<Record<GroupName, GroupConfig>>;
  /** `[metrics]`: the HTTP listener for /metrics, /healthz and the status page; absent = off. */
  readonly metrics?: MetricsConfig;
}

/** The `[metrics]` table, validated: `host` is loopback unless `allowPublic`. */
export interface MetricsConfig {
  /** Address to listen on, without brackets for IPv6. */
  readonly host: string;
  readonly port: number;
  readonly allowPublic: boolean;
}

/** A group as this node sees it: roots and paths expanded for this node. */
export interface NodeGroup {
  readonly config: GroupConfig;
  /** RootId → this node's absolute directory (or file) for it. */
  readonly roots: ReadonlyMap<RootId, string>;
  /** The other hosts of the group. */
  readonly peers: readonly NodeName[];
  /** True when this node is listed in receive_only. */
  readonly receiveOnly: boolean;
  readonly keyFile: string;
  readonly backupDir: string | undefined;
}

/** Everything one node needs: the config resolved for `self`. */
export interface NodeView {
  readonly config: Config;
  readonly self: NodeName;
  readonly stateDir: string;
  readonly tlsCert: string;
  readonly tlsKey: string;
  readonly listen: HostConfig;
  /** Only the groups this node belongs to. */
  readonly groups: ReadonlyMap<string, NodeGroup>;
}
