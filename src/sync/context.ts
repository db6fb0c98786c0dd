// What every sync operation needs: this node's view of the config and the ports. Built by cli/ or daemon/.
import type { Clock } from '../core/clock.ts';
import type { Logger } from '../core/logger.ts';
import type { GroupName } from '../core/types.ts';
import type { NodeView } from '../config/types.ts';
import type { FileSystem } from '../fs/filesystem.ts';
import type { StateStore } from '../store/state-store.ts';
import type { Hasher } from '../scanner/hasher.ts';

/** Exclusion test for one group (compiled from its `exclude` patterns). */
export interface GroupMatcher {
  isExcluded(logical: string): boolean;
}

/** The ports and configuration one node's sync code runs against. */
export interface SyncContext {
  readonly view: NodeView;
  readonly fs: FileSystem;
  readonly store: StateStore;
  readonly hasher: Hasher;
  readonly clock: Clock;
  readonly log: Logger;
  readonly matchers: ReadonlyMap<GroupName, GroupMatcher>;
  /** Where losing conflict content goes when a group keeps no backups (`<state_dir>/conflicts`). */
  readonly conflictDir: string;
}
