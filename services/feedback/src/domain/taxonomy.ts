/**
 * The hierarchical category taxonomy for span corrections. Paths are `/`-separated segments of
 * [a-z0-9_] (the contract's alphabet), e.g. `object`, `attribute/color`. A path is valid when it
 * was declared; declaring `attribute/color` declares `attribute` too. Filters match a category and
 * everything under it. Hyphens are accepted on input and read as underscores, so `text-in-image`
 * (the spelling) and `text_in_image` (the contract's) are the same category.
 * The six top-level defaults follow RLHF-V's MHumanEval types (object, position, number → count,
 * others) plus attribute and text_in_image, which MiniCPM-V OCR answers need.
 */
export const DEFAULT_CATEGORIES = ['object', 'attribute', 'count', 'position', 'text_in_image', 'other'] as const;

const SEGMENT = /^[a-z0-9][a-z0-9_]{0,31}$/;
export const MAX_CATEGORY_LENGTH = 64;
export const MAX_CATEGORY_DEPTH = 4;

export function normalizeCategory(path: string): string {
  return path.trim().toLowerCase().replace(/-/g, '_');
}

export class Taxonomy {
  private readonly paths: Set<string>;

  constructor(extra: readonly string[] = []) {
    this.paths = new Set();
    for (const p of [...DEFAULT_CATEGORIES, ...extra]) this.add(normalizeCategory(p));
  }

  private add(path: string): void {
    const segs = path.split('/');
    if (path.length > MAX_CATEGORY_LENGTH || segs.length > MAX_CATEGORY_DEPTH || !segs.every((s) => SEGMENT.test(s))) {
      throw new Error(`category "${path}" must be 1..${MAX_CATEGORY_DEPTH} '/'-separated segments matching ${SEGMENT}, at most ${MAX_CATEGORY_LENGTH} characters`);
    }
    for (let i = 1; i <= segs.length; i++) this.paths.add(segs.slice(0, i).join('/'));
  }

  /** The canonical path, or undefined when the category is not declared. */
  resolve(path: string): string | undefined {
    const p = normalizeCategory(path);
    return this.paths.has(p) ? p : undefined;
  }

  list(): string[] {
    return [...this.paths].sort();
  }
}

/** True when `category` is `filter` or lies under it (`attribute/color` matches `attribute`). */
export function categoryMatches(category: string, filter: string): boolean {
  return category === filter || category.startsWith(filter + '/');
}

export function topLevel(category: string): string {
  const i = category.indexOf('/');
  return i < 0 ? category : category.slice(0, i);
}
