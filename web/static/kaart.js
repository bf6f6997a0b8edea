// The knooppunt map (Leaflet, vendored): one component for the signal overview and the lookup details.
//
// <div data-kaart data-signalen="ID" [data-achtergrond="https://.../{z}/{x}/{y}.png"] [data-filter="ID"]>
// reads the flags from the JSON in <script type="application/json" id="ID"> ({"signalen": [...],
// "omvang": [west, south, east, north]}), draws the base layer from /kaart/basis (pand outlines,
// street names, house numbers at high zoom; built from the published release, so it works
// offline) and, when configured, a background below it. Clicking a flag opens its card.
// No inline scripts or styles (CSP): texts are set with textContent, styles through classes.
"use strict";

(function () {
  const STATUS = { nieuw: "nieuw", open: "open", in_triage: "in triage", opgelost: "opgelost" };

  function element(tag, className, text) {
    const el = document.createElement(tag);
    if (className) el.className = className;
    if (text !== undefined && text !== null) el.textContent = text;
    return el;
  }

  function card(flag) {
    const box = element("div", "kaart-signaal");
    box.appendChild(element("h3", null, flag.titel));
    if (flag.status) {
      box.appendChild(element("span", "label label-" + flag.status, STATUS[flag.status] || flag.status));
    }
    if (flag.sinds) box.appendChild(element("p", "meta", "sinds " + flag.sinds));
    if (flag.plaats) box.appendChild(element("p", null, flag.plaats));
    if (flag.uitleg) box.appendChild(element("p", null, flag.uitleg));
    (flag.besluiten || []).forEach(function (b) {
      box.appendChild(element("p", "besluit", b));
    });
    if (flag.pand_id) box.appendChild(element("p", "meta", "Pand " + flag.pand_id));
    return box;
  }

  function label(feature, latlng) {
    const p = feature.properties;
    const span = element("span", "kaart-tekst kaart-" + p.soort, p.tekst);
    if (p.hoek) span.style.transform = "translate(-50%, -50%) rotate(" + p.hoek + "deg)";
    return L.marker(latlng, {
      icon: L.divIcon({ className: "kaart-label", html: span, iconSize: null }),
      interactive: false,
      keyboard: false,
    });
  }

  function init(el) {
    const data = JSON.parse(document.getElementById(el.dataset.signalen).textContent);
    const flags = data.signalen || [];
    const flaggedPanden = new Set(flags.map((f) => f.pand_id).filter(Boolean));
    const map = L.map(el, { minZoom: 8, maxZoom: 21, zoomSnap: 1 });
    el.kaart = map;
    if (el.dataset.achtergrond) {
      L.tileLayer(el.dataset.achtergrond, {
        maxNativeZoom: 19,
        maxZoom: 21,
        attribution: "Achtergrond: PDOK BRT",
      }).addTo(map);
    }
    map.attributionControl.addAttribution("Panden en adressen: BAG (gepubliceerde release)");
    L.control.scale({ imperial: false }).addTo(map);

    const base = L.geoJSON(null, {
      style: (f) => ({
        className: "kaart-pand" + (flaggedPanden.has(f.properties.pand_id) ? " kaart-pand-signaal" : ""),
      }),
      pointToLayer: label,
      interactive: false,
    }).addTo(map);
    const layer = L.layerGroup().addTo(map);
    const markers = flags
      .filter((f) => f.lat !== null && f.lon !== null)
      .map(function (f) {
        const marker = L.circleMarker([f.lat, f.lon], {
          radius: 8,
          className: "kaart-punt kaart-punt-" + (f.status || "open"),
        });
        marker.bindPopup(() => card(f), { maxWidth: 320 });
        marker.signaal = f;
        return marker;
      });

    function showFlags() {
      const select = el.dataset.filter && document.getElementById(el.dataset.filter);
      const wanted = select ? select.value : "";
      layer.clearLayers();
      markers.forEach((m) => {
        if (!wanted || m.signaal.flag === wanted) layer.addLayer(m);
      });
      el.dataset.zichtbaar = String(layer.getLayers().length);
    }
    if (el.dataset.filter) document.getElementById(el.dataset.filter).addEventListener("change", showFlags);
    showFlags();

    let pending = null;
    function loadBase() {
      el.dataset.zoom = String(map.getZoom());
      const b = map.getBounds();
      const url =
        "/kaart/basis?bbox=" +
        [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(6)).join(",") +
        "&zoom=" +
        map.getZoom();
      if (pending) pending.abort();
      pending = new AbortController();
      fetch(url, { credentials: "same-origin", signal: pending.signal })
        .then((r) => (r.ok ? r.json() : Promise.reject(r.status)))
        .then(function (collection) {
          base.clearLayers();
          base.addData(collection);
          el.dataset.panden = String(collection.features.filter((f) => f.properties.soort === "pand").length);
          el.dataset.geladen = String(Number(el.dataset.geladen || 0) + 1);
        })
        .catch(() => {});
    }
    map.on("moveend", loadBase);

    if (markers.length) {
      map.fitBounds(L.featureGroup(markers).getBounds().pad(0.3), { maxZoom: 18 });
    } else if (data.omvang) {
      const [w, s, e, n] = data.omvang;
      map.fitBounds([[s, w], [n, e]]);
    } else {
      map.setView([52.1, 5.3], 8);
    }
  }

  document.querySelectorAll("[data-kaart]").forEach(init);
})();
