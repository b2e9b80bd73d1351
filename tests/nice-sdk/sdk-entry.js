// The five packages of NICE's agent SDK, bundled by esbuild into one CommonJS file (their .js
// files are ES modules without "type": "module" or file extensions, which Node cannot load).
export * as auth from '@nice-devone/auth-sdk';
export * as core from '@nice-devone/core-sdk';
export * as common from '@nice-devone/common-sdk';
export * as agent from '@nice-devone/agent-sdk';
export * as acd from '@nice-devone/acd-sdk';
