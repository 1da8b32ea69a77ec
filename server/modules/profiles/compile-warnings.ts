import type { CompileWarning } from './profile.schemas';

/** Collects what a compiler cannot express, in the order it met it. */
export function warningList() {
  const warnings: CompileWarning[] = [];
  return {
    warnings,
    warn(path: string, message: string): void {
      warnings.push({ path, message });
    },
  };
}
export type Warn = ReturnType<typeof warningList>['warn'];
