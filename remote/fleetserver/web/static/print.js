// The print view's Print button (a script, since the page's content security policy allows no inline one).
(function () {
  "use strict";
  var b = document.getElementById("print-now");
  if (b) { b.addEventListener("click", function () { window.print(); }); }
}());
