/* The location map: positions and school perimeters drawn as vectors, so they show even when no tile arrives. */
(function () {
  'use strict';
  var el = document.getElementById('location-map');
  if (!el || !window.L) return;
  var data = JSON.parse(el.getAttribute('data-map'));
  var L = window.L;
  var map = L.map(el, { preferCanvas: false });
  var status = document.getElementById('map-status');
  var tiles = L.tileLayer(data.tiles, { attribution: data.attribution, maxZoom: 19 });
  var failed = false;
  tiles.on('tileerror', function () {
    if (failed) return;
    failed = true;
    el.classList.add('no-tiles');
    if (status) status.textContent = el.getAttribute('data-no-tiles');
  });
  tiles.addTo(map);
  var drawn = [];
  data.geofences.forEach(function (g) {
    var shape = g.shape.type === 'circle'
      ? L.circle([g.shape.center.lat, g.shape.center.lon], { radius: g.shape.radiusM, className: 'map-fence' })
      : L.polygon(g.shape.points.map(function (p) { return [p.lat, p.lon]; }), { className: 'map-fence' });
    shape.bindTooltip(g.name);
    shape.addTo(map);
    drawn.push(shape);
  });
  data.positions.forEach(function (p) {
    var marker = L.circleMarker([p.lat, p.lon], { radius: 7, className: 'map-device' });
    marker.bindTooltip(p.deviceName || p.deviceId);
    marker.addTo(map);
    drawn.push(marker);
  });
  if (drawn.length) map.fitBounds(L.featureGroup(drawn).getBounds(), { padding: [24, 24], maxZoom: 17 });
  else map.setView([46.6, 2.4], 5);
})();
