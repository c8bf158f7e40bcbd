export interface Snippet {
  /** 1-based line of the opening fence. */
  line: number;
  code: string;
  /** The reason given by a skip mark, if the block has one ('' for a mark without a reason). */
  skip?: string;
}
export function typescriptSnippets(markdown: string): Snippet[];
export function snippetModule(snippet: Snippet): string;
