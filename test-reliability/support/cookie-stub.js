/* global module */
// Stand-in for the ESM-only `cookie` package that light-my-request requires; the suite sends no cookies.
module.exports = {
  stringifySetCookie: () => {
    throw new Error('cookies are not supported in the reliability suite');
  },
};
