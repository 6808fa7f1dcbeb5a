// Vite's `?worker&url` imports: the URL of the bundled worker module.
declare module "*?worker&url" {
  const url: string;
  export default url;
}
