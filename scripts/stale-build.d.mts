export function staleBuild(root: string, env: Record<string, string | undefined>): string | null;
