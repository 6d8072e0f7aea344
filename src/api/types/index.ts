// Docker Engine API wire types, generated from the contract by scripts/gen-api-types.mjs.
export type * from './generated.js';
