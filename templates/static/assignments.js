/* "Assign training": show only the fields the chosen target uses. The form works without
   this (every field is shown, and the server ignores those the target does not use). */
(function () {
  "use strict";
  var form = document.querySelector("form.assign-form");
  if (!form) { return; }
  var radios = form.querySelectorAll('input[name="target_kind"]');
  var parts = form.querySelectorAll(".depends[data-kinds]");

  function chosen() {
    for (var i = 0; i < radios.length; i++) {
      if (radios[i].checked) { return radios[i].value; }
    }
    return "";
  }

  function update() {
    var kind = chosen();
    for (var i = 0; i < parts.length; i++) {
      var kinds = parts[i].getAttribute("data-kinds").split(" ");
      parts[i].hidden = kinds.indexOf(kind) === -1;
    }
  }

  for (var i = 0; i < radios.length; i++) {
    radios[i].addEventListener("change", update);
  }
  update();
}());
