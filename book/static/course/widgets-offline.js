// Lets the Jupyter widgets HTML manager (vendored in _static/vendor/) work offline, from file://.
// Loaded after require.js and before embed-amd.js (see nb_ipywidgets_js in _config.yml).
(function () {
  "use strict";
  // 1. The manager computes where its font files live from its AMD module path, which
  //    require.js resolves against the page's folder. Point that path at the vendored copy.
  var here = document.currentScript && document.currentScript.src;
  if (here && window.require && window.require.config) {
    var vendor = here.replace(/course\/widgets-offline\.js(\?.*)?$/, "vendor/html-manager");
    window.require.config({ paths: { "@jupyter-widgets/html-manager/dist": vendor } });
  }
  // 2. The manager typesets widget labels with the MathJax 2 API (MathJax.Hub.Queue); the
  //    book loads MathJax 3, which has no Hub. Translate the one call it makes.
  document.addEventListener("DOMContentLoaded", function () {
    var mj = window.MathJax;
    if (mj && !mj.Hub) {
      mj.Hub = {
        Queue: function (job) {
          var element = Array.isArray(job) ? job[2] : null;
          if (element && mj.typesetPromise) {
            mj.typesetPromise([element]).catch(function () {});
          }
        },
      };
    }
  });
})();
