// Show only the fields of the chosen search kind. Without JavaScript all fields stay visible.
(function () {
  var radios = document.querySelectorAll("input[data-soort]");
  if (!radios.length) return;
  function update() {
    var chosen = document.querySelector("input[data-soort]:checked");
    var kind = chosen ? chosen.value : "address";
    document.querySelectorAll(".zoekveld").forEach(function (el) {
      el.classList.toggle("verborgen", el.getAttribute("data-voor") !== kind);
    });
  }
  radios.forEach(function (r) { r.addEventListener("change", update); });
  update();
})();
