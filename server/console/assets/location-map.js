/* The location map: positions and school perimeters drawn as vectors, so they show even when no tile arrives. */
(function () {
  'use strict';
  var el = document.getElementById('location-map');
  if (!el || !window.L) return;
  var data = JSON.parse(el.getAttribute('data-map'));
  var L = window.L;
  var map = L.map(el);
  var status = document.getElementById('map-status');

  // The view is set before anything is drawn: a circle needs the map's projection.
  var bounds = L.latLngBounds([]);
  data.geofences.forEach(function (g) {
    if (g.shape.type === 'circle') bounds.extend(L.latLng(g.shape.center.lat, g.shape.center.lon).toBounds(g.shape.radiusM * 2));
    else g.shape.points.forEach(function (p) { bounds.extend([p.lat, p.lon]); });
  });
  data.positions.forEach(function (p) { bounds.extend([p.lat, p.lon]); });
  if (bounds.isValid()) map.fitBounds(bounds, { padding: [24, 24], maxZoom: 17 });
  else map.setView([46.6, 2.4], 5);

  var tiles = L.tileLayer(data.tiles, { attribution: data.attribution, maxZoom: 19 });
  var failed = false;
  tiles.on('tileerror', function () {
    if (failed) return;
    failed = true;
    el.classList.add('no-tiles');
    if (status) status.textContent = el.getAttribute('data-no-tiles');
  });
  tiles.addTo(map);

  data.geofences.forEach(function (g) {
    var shape = g.shape.type === 'circle'
      ? L.circle([g.shape.center.lat, g.shape.center.lon], { radius: g.shape.radiusM, className: 'map-fence' })
      : L.polygon(g.shape.points.map(function (p) { return [p.lat, p.lon]; }), { className: 'map-fence' });
    shape.bindTooltip(g.name).addTo(map);
  });
  data.positions.forEach(function (p) {
    L.circleMarker([p.lat, p.lon], { radius: 7, className: 'map-device' }).bindTooltip(p.deviceName || p.deviceId).addTo(map);
  });
})();
