// `.pg` files imported as text (esbuild's text loader, see scripts/build.mjs).
declare module "*.pg" {
  const text: string;
  export default text;
}
