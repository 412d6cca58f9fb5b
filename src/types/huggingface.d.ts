/**
 * Local type declarations for `@huggingface/tokenizers` 0.2.0.
 *
 * The package ships types whose relative imports have no file extensions, so they do not resolve
 * under `moduleResolution: NodeNext` and the import would be typed `any`. This ambient module
 * declares the small surface `src/model/tokenizer.ts` uses; it is not part of our public API.
 */
declare module "@huggingface/tokenizers" {
  /** The result of `Tokenizer.encode`. */
  export interface Encoding {
    ids: number[];
    tokens: string[];
    attention_mask: number[];
  }

  /** A post-processor is callable: `(tokens, pairTokens, addSpecialTokens) => { tokens }`. */
  export type PostProcessorFn = (
    tokens: string[],
    tokensPair: string[] | null,
    addSpecialTokens: boolean,
  ) => { tokens: string[]; tokens_pair?: string[] | null };

  /** A tokenizer built from a parsed `tokenizer.json` and `tokenizer_config.json`. */
  export class Tokenizer {
    constructor(tokenizer: object, config: object);
    post_processor: PostProcessorFn | null;
    encode(text: string, options?: { add_special_tokens?: boolean }): Encoding;
    decode(
      ids: number[],
      options?: { skip_special_tokens?: boolean; clean_up_tokenization_spaces?: boolean | null },
    ): string;
    token_to_id(token: string): number | undefined;
    id_to_token(id: number): string | undefined;
  }
}
